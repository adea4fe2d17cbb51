#include "chat/tool_call_grammar.h"

#include <boost/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "common/error.h"

namespace tether::chat {
namespace {

namespace json = boost::json;
using constrain::Grammar;

struct ForcedTool {
  std::string name;
  Grammar arguments;
};

std::string quoted(const std::string& name) { return json::serialize(json::string(name)); }

// {"name": "NAME", "<key>": ARGUMENTS}, as Hermes, Llama 3 and Mistral
// templates write calls.
Grammar json_call(const ForcedTool& tool, std::string_view arguments_key) {
  return constrain::sequence({
      constrain::literal("{\"name\": " + quoted(tool.name) + ", \"" + std::string(arguments_key) + "\": "),
      tool.arguments,
      constrain::literal("}"),
  });
}

Grammar any_of(const std::vector<ForcedTool>& tools, const auto& call_of) {
  std::vector<Grammar> calls;
  calls.reserve(tools.size());
  for (const ForcedTool& tool : tools) calls.push_back(call_of(tool));
  return constrain::choice(std::move(calls));
}

// first (separator first){0, max-1}
Grammar one_or_more(const Grammar& call, std::string_view separator, bool parallel) {
  if (!parallel) return call;
  return constrain::sequence({call, constrain::repeat(constrain::sequence({constrain::literal(separator), call}), 0,
                                                      kMaxForcedToolCalls - 1)});
}

Grammar hermes(const std::vector<ForcedTool>& tools, bool parallel) {
  const Grammar call = any_of(tools, [](const ForcedTool& tool) {
    return constrain::sequence(
        {constrain::literal("<tool_call>\n"), json_call(tool, "arguments"), constrain::literal("\n</tool_call>")});
  });
  return one_or_more(call, "\n", parallel);
}

Grammar llama3(const std::vector<ForcedTool>& tools) {
  return any_of(tools, [](const ForcedTool& tool) { return json_call(tool, "parameters"); });
}

Grammar mistral(const std::vector<ForcedTool>& tools, bool parallel) {
  const Grammar call = any_of(tools, [](const ForcedTool& tool) { return json_call(tool, "arguments"); });
  return constrain::sequence(
      {constrain::literal("[TOOL_CALLS]["), one_or_more(call, ", ", parallel), constrain::literal("]")});
}

// Kimi numbers its calls (functions.NAME:IDX), so the repetition is
// unrolled: call 0, then optionally call 1, and so on.
Grammar kimi_k2(const std::vector<ForcedTool>& tools, bool parallel) {
  const int count = parallel ? kMaxForcedToolCalls : 1;
  Grammar rest;  // the empty string after the last possible call
  for (int call_idx = count - 1; call_idx >= 0; --call_idx) {
    const Grammar call = any_of(tools, [call_idx](const ForcedTool& tool) {
      return constrain::sequence({
          constrain::literal("<|tool_call_begin|>functions." + tool.name + ":" + std::to_string(call_idx) +
                             "<|tool_call_argument_begin|>"),
          tool.arguments,
          constrain::literal("<|tool_call_end|>"),
      });
    });
    rest = call_idx == count - 1 ? call : constrain::sequence({call, constrain::optional(rest)});
  }
  return constrain::sequence(
      {constrain::literal("<|tool_calls_section_begin|>"), rest, constrain::literal("<|tool_calls_section_end|>")});
}

Grammar deepseek_v3_1(const std::vector<ForcedTool>& tools, bool parallel) {
  const Grammar call = any_of(tools, [](const ForcedTool& tool) {
    return constrain::sequence({
        constrain::literal("<｜tool▁call▁begin｜>" + tool.name + "<｜tool▁sep｜>"),
        tool.arguments,
        constrain::literal("<｜tool▁call▁end｜>"),
    });
  });
  return constrain::sequence({constrain::literal("<｜tool▁calls▁begin｜>"), one_or_more(call, "", parallel),
                              constrain::literal("<｜tool▁calls▁end｜>")});
}

}  // namespace

Grammar forced_tool_call_grammar(ToolCallFormat format, const json::array& tools, const ToolChoice& choice,
                                 bool parallel, const constrain::JsonOptions& options) {
  if (choice.mode != ToolChoice::Mode::kRequired && choice.mode != ToolChoice::Mode::kFunction) {
    throw_error(ErrorCode::kInvalidArgument, "a forced tool call needs tool_choice \"required\" or a named function");
  }
  std::vector<ForcedTool> forced;
  size_t tool_idx = 0;
  for (const json::value& tool : tools) {
    const std::string name = tool_name(tool);
    if (choice.mode == ToolChoice::Mode::kFunction && name != choice.function_name) {
      ++tool_idx;
      continue;
    }
    try {
      forced.push_back(ForcedTool{name, constrain::json_schema(tool_parameters(tool), options)});
    } catch (const Error& error) {
      throw_error(ErrorCode::kInvalidArgument, "tools[{}].function.parameters: {}", tool_idx, error.what());
    }
    ++tool_idx;
  }
  if (forced.empty()) {
    if (choice.mode == ToolChoice::Mode::kFunction) {
      throw_error(ErrorCode::kInvalidArgument, "tool_choice.function.name \"{}\" is not one of the tools",
                  choice.function_name);
    }
    throw_error(ErrorCode::kInvalidArgument, "tool_choice \"required\" needs a non-empty tools");
  }
  switch (format) {
    case ToolCallFormat::kHermes:
      return hermes(forced, parallel);
    case ToolCallFormat::kLlama3Json:
      return llama3(forced);
    case ToolCallFormat::kMistral:
      return mistral(forced, parallel);
    case ToolCallFormat::kKimiK2:
      return kimi_k2(forced, parallel);
    case ToolCallFormat::kDeepSeekV31:
      return deepseek_v3_1(forced, parallel);
  }
  return hermes(forced, parallel);
}

}  // namespace tether::chat
