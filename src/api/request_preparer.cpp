#include "api/request_preparer.h"

#include "api/invalid_param.h"
#include "chat/chat_template.h"
#include "chat/tool_call_format.h"
#include "chat/tool_call_grammar.h"
#include "chat/tool_call_messages.h"
#include "chat/tool_call_request.h"
#include "common/error.h"
#include "constrain/grammar.h"

namespace tether::api {

namespace {

// The prompt text of a chat request: the conversation rendered by the
// model's template. A template that raises (e.g. a role it rejects) is the
// client's mistake: 400 with the template's message.
std::string render_chat(const ServedModel& model, const ChatRequest& request) {
  chat::ChatTemplateInput input;
  try {
    input.messages = chat::prepare_messages_for_template(request.messages);
  } catch (const Error& error) {
    throw_invalid_param("messages", "{}", error.what());
  }
  input.tools = request.tools;
  input.add_generation_prompt = true;
  input.bos_token = model.bos_text;
  input.eos_token = model.eos_text;
  try {
    return model.chat_template->render(input);
  } catch (const Error& error) {
    throw_invalid_param("messages", "the model's chat template rejected the conversation: {}",
                        error.what());
  }
}

std::shared_ptr<const generation::TokenConstraintFactory> constraint_for(
    const ServedModel& model, const ChatRequest& request, const chat::ToolChoice& choice,
    chat::ToolCallFormat format) {
  try {
    if (!request.tools.empty() && (choice.mode == chat::ToolChoice::Mode::kRequired ||
                                   choice.mode == chat::ToolChoice::Mode::kFunction)) {
      return constrain::compile(
          chat::forced_tool_call_grammar(format, request.tools, choice, request.parallel_tool_calls),
          model.vocabulary);
    }
    switch (request.response_format.type) {
      case ResponseFormatType::kText: return nullptr;
      case ResponseFormatType::kJsonObject:
        return constrain::compile(constrain::json_object(), model.vocabulary);
      case ResponseFormatType::kJsonSchema:
        return constrain::compile(constrain::json_schema(request.response_format.schema),
                                  model.vocabulary);
    }
  } catch (const Error& error) {
    bool tools = !request.tools.empty() && choice.mode != chat::ToolChoice::Mode::kAuto &&
                 choice.mode != chat::ToolChoice::Mode::kNone;
    throw_invalid_param(tools ? "tools" : "response_format", "{}", error.what());
  }
  return nullptr;
}

}  // namespace

PreparedRequest prepare_request(const ServedModel& model, const ChatRequest& request) {
  PreparedRequest prepared;
  generation::GenerationRequest& generation = prepared.engine_request.generation;
  const tokenizer::Tokenizer& tok = *model.tokenizer;

  chat::ToolChoice choice;
  try {
    if (!request.tools.empty()) chat::validate_tools(request.tools);
    choice = chat::parse_tool_choice(request.tool_choice.is_null() ? nullptr : &request.tool_choice,
                                     request.tools);
  } catch (const Error& error) {
    throw_invalid_param(request.tool_choice.is_null() || request.tools.empty() ? "tools" : "tool_choice",
                        "{}", error.what());
  }
  const chat::ToolCallFormat format = model.tool_format;
  if (request.chat) {
    std::string text = render_chat(model, request);
    generation.prompt_tokens = tok.encode(text, {.add_special = false, .parse_special = true});
  } else if (!request.prompt_tokens.empty()) {
    generation.prompt_tokens = request.prompt_tokens;
    for (int32_t id : generation.prompt_tokens) {
      if (id < 0 || id >= tok.n_vocab()) {
        throw_invalid_param("prompt", "token id {} is outside the vocabulary (0..{})", id,
                            tok.n_vocab() - 1);
      }
    }
  } else {
    generation.prompt_tokens = tok.encode(request.prompt, {.add_special = true, .parse_special = false});
  }
  const int64_t context = model.model->config().context_length;
  const int64_t prompt = static_cast<int64_t>(generation.prompt_tokens.size());
  if (prompt == 0) throw_invalid_param(request.chat ? "messages" : "prompt", "the prompt is empty");
  if (prompt >= context) {
    throw http::HttpError(400,
                          fmt::format("this model's maximum context length is {} tokens, but the "
                                      "prompt has {} tokens; shorten the {}",
                                      context, prompt, request.chat ? "messages" : "prompt"),
                          "invalid_request_error", request.chat ? "messages" : "prompt",
                          "context_length_exceeded");
  }
  // Up to the context's end; a larger max_tokens ends there with "length".
  generation.max_tokens = static_cast<int32_t>(
      std::min<int64_t>(request.max_tokens.value_or(context), context - prompt));
  generation.stop = request.stop;
  generation.sampling = request.sampling;
  generation.constraint = constraint_for(model, request, choice, format);
  prepared.engine_request.cache_salt = request.cache_salt;
  prepared.engine_request.priority = sched::Priority::kInteractive;
  prepared.tool_parsing.enabled = !request.tools.empty() && choice.mode != chat::ToolChoice::Mode::kNone;
  prepared.tool_parsing.format = format;
  return prepared;
}

}  // namespace tether::api
