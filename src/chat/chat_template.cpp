#include "chat/chat_template.h"

#include <boost/json.hpp>

#include "engine/gguf/gguf_file.h"
#include "engine/tokenizer/builtin_vocab.h"
#include "jinja/json_value.h"
#include "jinja/template.h"

namespace tether::chat {

ChatTemplate::ChatTemplate(std::string source)
    : source_(std::move(source)), template_(std::make_unique<const jinja::Template>(source_)) {}

ChatTemplate::~ChatTemplate() = default;
ChatTemplate::ChatTemplate(ChatTemplate&&) noexcept = default;
ChatTemplate& ChatTemplate::operator=(ChatTemplate&&) noexcept = default;

std::string ChatTemplate::render(const ChatTemplateInput& input) const {
  jinja::Object variables;
  // Template kwargs first, so the fixed variables below win on a name clash.
  for (const auto& entry : input.extra)
    variables.set(std::string(entry.key()), jinja::from_json(entry.value()));
  variables.set("messages", jinja::from_json(input.messages));
  variables.set("tools", input.tools.empty() ? jinja::Value::none() : jinja::from_json(input.tools));
  variables.set("documents", jinja::Value::none());
  variables.set("add_generation_prompt", jinja::Value::boolean(input.add_generation_prompt));
  variables.set("bos_token", jinja::Value::string(input.bos_token));
  variables.set("eos_token", jinja::Value::string(input.eos_token));
  jinja::RenderOptions options;
  options.limits = input.limits;
  options.now = input.now;
  return template_->render(variables, options);
}

std::string_view ChatTemplate::chatml_source() { return tokenizer::chatml_chat_template(); }

ChatTemplate chat_template_for(const gguf::GgufFile& file) {
  std::optional<std::string> source = file.find_string("tokenizer.chat_template");
  if (!source || source->empty()) return ChatTemplate(std::string(ChatTemplate::chatml_source()));
  return ChatTemplate(std::move(*source));
}

}  // namespace tether::chat
