#include "chat/tool_call_format.h"

namespace tether::chat {

std::string_view tool_call_format_name(ToolCallFormat format) {
  switch (format) {
    case ToolCallFormat::kHermes:
      return "hermes";
    case ToolCallFormat::kLlama3Json:
      return "llama3_json";
    case ToolCallFormat::kMistral:
      return "mistral";
    case ToolCallFormat::kKimiK2:
      return "kimi_k2";
  }
  return "unknown";
}

ToolCallFormat detect_tool_call_format(std::string_view chat_template_source,
                                       std::string_view architecture) {
  const auto has = [&](std::string_view marker) {
    return chat_template_source.find(marker) != std::string_view::npos;
  };
  // Most specific markers first: Hermes 3 is a Llama 3.1 fine-tune whose
  // template still carries Llama's header tokens, so <tool_call> must win
  // over them.
  if (has("<|tool_calls_section_begin|>") || has("<|tool_call_begin|>")) return ToolCallFormat::kKimiK2;
  if (has("[TOOL_CALLS]")) return ToolCallFormat::kMistral;
  if (has("<tool_call>")) return ToolCallFormat::kHermes;
  if (has("<|python_tag|>")) return ToolCallFormat::kLlama3Json;
  if (has("<|start_header_id|>") && has("\"parameters\"")) return ToolCallFormat::kLlama3Json;
  // The supported families share GGUF architectures with others (Llama,
  // Mistral and Hermes all load as "llama"), so the architecture cannot
  // overrule a template; without markers every family falls back to the
  // ChatML + Hermes convention that Qwen and our demo model use.
  (void)architecture;
  return ToolCallFormat::kHermes;
}

}  // namespace tether::chat
