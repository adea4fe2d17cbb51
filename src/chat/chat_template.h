#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "jinja/interpreter.h"

namespace tether::gguf {
class GgufFile;
}

namespace tether::jinja {
class Template;
}

namespace tether::chat {

// What a chat template renders: the variables Hugging Face's
// apply_chat_template passes (messages, tools, add_generation_prompt,
// bos_token, eos_token, plus template kwargs).
struct ChatTemplateInput {
  boost::json::array messages;  // OpenAI-style message objects as given (role, content, tool_calls, ...)
  boost::json::array tools;     // OpenAI tool objects; empty => `tools` is None in the template
  bool add_generation_prompt = true;
  std::string bos_token, eos_token;  // texts of the model's BOS/EOS tokens
  boost::json::object extra;         // additional template variables (enable_thinking, ...), passed through
  // What strftime_now formats (UTC); the system clock when unset. Tests fix it.
  std::optional<std::chrono::system_clock::time_point> now;
  // Bounds on one render (output size, steps, recursion depth).
  jinja::RenderLimits limits;
};

// A model's chat template, parsed once and rendered per request.
class ChatTemplate {
 public:
  // Parses `source`; throws Error(kInvalidArgument) with line:column on a bad template.
  explicit ChatTemplate(std::string source);
  ~ChatTemplate();
  ChatTemplate(ChatTemplate&&) noexcept;
  ChatTemplate& operator=(ChatTemplate&&) noexcept;

  // Thread-safe (const, no shared mutable state). Throws Error(kInvalidArgument)
  // on a template error, raise_exception included, or when a limit is reached.
  std::string render(const ChatTemplateInput& input) const;
  const std::string& source() const { return source_; }

  // The fallback for models without a template: ChatML, with tools offered
  // and called Hermes-style (<tools> signatures, <tool_call> JSON), tool
  // results as <tool_response> in a user turn, as Qwen2.5 does.
  static std::string_view chatml_source();

 private:
  std::string source_;
  std::unique_ptr<const jinja::Template> template_;
};

// The model's tokenizer.chat_template from its GGUF metadata, or ChatML when
// absent or empty.
ChatTemplate chat_template_for(const gguf::GgufFile& file);

}  // namespace tether::chat
