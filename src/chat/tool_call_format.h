#pragma once

#include <string_view>

namespace tether::chat {

// How a model family writes tool calls in its output.
enum class ToolCallFormat {
  // <tool_call>\n{"name": ..., "arguments": {...}}\n</tool_call>, possibly
  // several (Hermes 2/3, Qwen 2.5/3, and every ChatML model by default).
  kHermes,
  // {"name": ..., "parameters": {...}} as the whole message, optionally after
  // <|python_tag|>; several separated by ';' (Llama 3.1/3.2/3.3).
  kLlama3Json,
  // [TOOL_CALLS][{"name": ..., "arguments": {...}, "id": ...}, ...] (Mistral
  // Nemo/Small and the v3 tokenizers), or the newer
  // [TOOL_CALLS]name[ARGS]{...} of the v11 tokenizers.
  kMistral,
  // <|tool_calls_section_begin|><|tool_call_begin|>functions.NAME:IDX
  // <|tool_call_argument_begin|>{...}<|tool_call_end|>...
  // <|tool_calls_section_end|> (Kimi K2).
  kKimiK2,
};

std::string_view tool_call_format_name(ToolCallFormat format);

// Picks the family from markers in the chat template's source; the
// architecture (GGUF general.architecture) only breaks ties where the
// template says nothing. Hermes is the default: ChatML templates and models
// without a template use it.
ToolCallFormat detect_tool_call_format(std::string_view chat_template_source,
                                       std::string_view architecture);

}  // namespace tether::chat
