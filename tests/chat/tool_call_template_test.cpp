// Round trip through the real chat templates: an assistant turn with tool
// calls, as each template writes it back into the conversation, is what
// that family's parser reads as the same calls. This ties format detection,
// prepare_messages_for_template and the parsers to the templates.

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "chat/chat_template.h"
#include "chat/tool_call_format.h"
#include "chat/tool_call_messages.h"
#include "chat/tool_call_parser.h"
#include "test_paths.h"

namespace tether::chat {
namespace {

namespace json = boost::json;

std::string read_template(const std::string& name) {
  std::ifstream in(testing::shared_testdata_dir() / "chat-templates" / name, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

const char* const kTools = R"([
  {"type": "function", "function": {"name": "get_weather", "description": "Weather of a city",
   "parameters": {"type": "object", "properties": {"city": {"type": "string", "description": "The city"}},
                  "required": ["city"]}}},
  {"type": "function", "function": {"name": "get_time", "description": "Time in a zone",
   "parameters": {"type": "object", "properties": {"tz": {"type": "string", "description": "The zone"}},
                  "required": ["tz"]}}}
])";

struct Case {
  std::string name;  // template file; "" = our ChatML fallback
  ToolCallFormat format;
  std::string bos, eos;
  std::string turn_end;  // what the template writes after the assistant's calls
  int calls;             // how many calls the template accepts in one turn
};

class ToolCallTemplateTest : public ::testing::TestWithParam<Case> {};

TEST_P(ToolCallTemplateTest, CallsWrittenByTheTemplateParseBack) {
  const Case& c = GetParam();
  std::string source;
  if (c.name.empty()) {
    source = std::string(ChatTemplate::chatml_source());
  } else {
    TETHER_SKIP_WITHOUT_SHARED_TESTDATA();
    source = read_template(c.name);
    ASSERT_FALSE(source.empty());
  }
  EXPECT_EQ(detect_tool_call_format(source, "llama"), c.format);

  json::array calls = json::parse(R"([
    {"id": "aB3dE6gH9", "type": "function",
     "function": {"name": "get_weather", "arguments": "{\"city\": \"S\u00e3o Paulo\"}"}},
    {"id": "x1y2z3w4v", "type": "function", "function": {"name": "get_time", "arguments": "{\"tz\": \"UTC\"}"}}
  ])")
                          .as_array();
  calls.resize(static_cast<size_t>(c.calls));
  const json::array user =
      json::parse(R"([{"role": "user", "content": "Weather in Sao Paulo, and the time?"}])").as_array();
  json::array conversation = user;
  conversation.push_back(json::object{{"role", "assistant"}, {"content", nullptr}, {"tool_calls", calls}});

  const ChatTemplate chat_template(source);
  ChatTemplateInput prompt_input;
  prompt_input.messages = prepare_messages_for_template(user);
  prompt_input.tools = json::parse(kTools).as_array();
  prompt_input.bos_token = c.bos;
  prompt_input.eos_token = c.eos;
  ChatTemplateInput full_input = prompt_input;
  full_input.messages = prepare_messages_for_template(conversation);
  full_input.add_generation_prompt = false;
  const std::string prompt = chat_template.render(prompt_input);
  const std::string full = chat_template.render(full_input);
  ASSERT_EQ(full.substr(0, prompt.size()), prompt) << full;
  std::string output = full.substr(prompt.size());
  const size_t end = output.rfind(c.turn_end);
  ASSERT_NE(end, std::string::npos) << output;
  output.resize(end);
  SCOPED_TRACE(output);

  const ParsedToolCalls parsed = parse_tool_calls(c.format, output, ToolCallIdGenerator(1));
  // Nothing but whitespace outside the calls (Qwen3 also writes an empty
  // reasoning block, which is the reasoning parser's, not ours).
  std::string content = parsed.content;
  if (const size_t think_end = content.find("</think>");
      content.rfind("<think>", 0) == 0 && think_end != std::string::npos) {
    content.erase(0, think_end + 8);
  }
  EXPECT_EQ(content.find_first_not_of(" \n"), std::string::npos) << parsed.content;
  ASSERT_EQ(parsed.tool_calls.size(), calls.size());
  for (size_t call_idx = 0; call_idx < calls.size(); ++call_idx) {
    const json::object& function = calls[call_idx].at("function").as_object();
    EXPECT_EQ(parsed.tool_calls[call_idx].name, function.at("name").as_string());
    EXPECT_EQ(json::parse(parsed.tool_calls[call_idx].arguments), json::parse(function.at("arguments").as_string()));
  }
  if (c.format == ToolCallFormat::kKimiK2) {
    EXPECT_EQ(parsed.tool_calls[0].id, "functions.get_weather:0");
  }
  if (c.format == ToolCallFormat::kMistral) {
    EXPECT_EQ(parsed.tool_calls[0].id, "aB3dE6gH9");
  }
}

INSTANTIATE_TEST_SUITE_P(
    Families, ToolCallTemplateTest,
    ::testing::Values(
        Case{"", ToolCallFormat::kHermes, "", "<|endoftext|>", "<|im_end|>", 2},
        Case{"Qwen-Qwen2.5-7B-Instruct.jinja", ToolCallFormat::kHermes, "", "<|im_end|>", "<|im_end|>", 2},
        Case{"Qwen-Qwen3-0.6B.jinja", ToolCallFormat::kHermes, "", "<|im_end|>", "<|im_end|>", 2},
        Case{"NousResearch-Hermes-3-Llama-3.1-8B-tool_use.jinja", ToolCallFormat::kHermes, "<|begin_of_text|>",
             "<|im_end|>", "<|im_end|>", 2},
        Case{"meta-llama-Llama-3.1-8B-Instruct.jinja", ToolCallFormat::kLlama3Json, "<|begin_of_text|>", "<|eot_id|>",
             "<|eot_id|>", 1},
        Case{"meta-llama-Llama-3.2-3B-Instruct.jinja", ToolCallFormat::kLlama3Json, "<|begin_of_text|>", "<|eot_id|>",
             "<|eot_id|>", 1},
        Case{"mistralai-Mistral-Nemo-Instruct-2407.jinja", ToolCallFormat::kMistral, "<s>", "</s>", "</s>", 2},
        Case{"moonshotai-Kimi-K2.jinja", ToolCallFormat::kKimiK2, "", "[EOS]", "<|im_end|>", 2},
        Case{"deepseek-ai-DeepSeek-V3.1.jinja", ToolCallFormat::kDeepSeekV31, "<｜begin▁of▁sentence｜>",
             "<｜end▁of▁sentence｜>", "<｜end▁of▁sentence｜>", 2}),
    [](const ::testing::TestParamInfo<Case>& info) {
      return std::string(tool_call_format_name(info.param.format)) + "_" + std::to_string(info.index);
    });

}  // namespace
}  // namespace tether::chat
