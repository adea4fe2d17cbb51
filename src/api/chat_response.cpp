#include "api/chat_response.h"

#include <cmath>
#include <random>

#include <boost/json/parse.hpp>

#include "chat/tool_call_json.h"
#include "engine/tokenizer/unicode.h"

namespace tether::api {

namespace {

boost::json::array byte_array(std::string_view text) {
  boost::json::array bytes;
  for (unsigned char c : text) bytes.emplace_back(static_cast<int64_t>(c));
  return bytes;
}

boost::json::value logprob_value(float logprob) {
  // JSON has no -inf; a banned-but-chosen token cannot happen, a -inf
  // alternative can (it is reported as the most negative float).
  if (std::isfinite(logprob)) return static_cast<double>(logprob);
  return -9999.0;
}

}  // namespace

boost::json::object usage_json(const TokenCounts& counts) {
  boost::json::object usage;
  usage["prompt_tokens"] = counts.prompt;
  usage["completion_tokens"] = counts.completion;
  usage["total_tokens"] = counts.prompt + counts.completion;
  usage["prompt_tokens_details"] = boost::json::object{{"cached_tokens", counts.cached}};
  return usage;
}

ResponseBuilder::ResponseBuilder(ApiDialect dialect, std::string model, std::string id,
                                 int64_t created, TokenText token_text)
    : dialect_(dialect),
      model_(std::move(model)),
      id_(std::move(id)),
      created_(created),
      token_text_(std::move(token_text)) {}

boost::json::value ResponseBuilder::chat_logprobs(
    std::span<const sampling::SampledToken> logprobs) const {
  boost::json::array content;
  // A token may hold part of a UTF-8 character: "token" is its text made
  // valid (U+FFFD), "bytes" its exact bytes, as OpenAI reports them.
  for (const sampling::SampledToken& token : logprobs) {
    std::string text = token_text_(token.id);
    boost::json::array top;
    for (const sampling::TokenLogprob& alt : token.top_logprobs) {
      std::string alt_text = token_text_(alt.id);
      top.push_back(boost::json::object{{"token", tokenizer::unicode::sanitize_utf8(alt_text)},
                                        {"logprob", logprob_value(alt.logprob)},
                                        {"bytes", byte_array(alt_text)}});
    }
    content.push_back(boost::json::object{{"token", tokenizer::unicode::sanitize_utf8(text)},
                                          {"logprob", logprob_value(token.logprob)},
                                          {"bytes", byte_array(text)},
                                          {"top_logprobs", std::move(top)}});
  }
  return boost::json::object{{"content", std::move(content)}, {"refusal", nullptr}};
}

boost::json::value ResponseBuilder::completion_logprobs(
    std::span<const sampling::SampledToken> logprobs) const {
  boost::json::array tokens, token_logprobs, top_logprobs, offsets;
  int64_t offset = 0;
  for (const sampling::SampledToken& token : logprobs) {
    std::string text = token_text_(token.id);
    tokens.emplace_back(tokenizer::unicode::sanitize_utf8(text));
    token_logprobs.emplace_back(logprob_value(token.logprob));
    boost::json::object top;
    for (const sampling::TokenLogprob& alt : token.top_logprobs) {
      top[tokenizer::unicode::sanitize_utf8(token_text_(alt.id))] = logprob_value(alt.logprob);
    }
    top_logprobs.emplace_back(std::move(top));
    offsets.emplace_back(offset);
    offset += static_cast<int64_t>(text.size());
  }
  return boost::json::object{{"tokens", std::move(tokens)},
                             {"token_logprobs", std::move(token_logprobs)},
                             {"top_logprobs", std::move(top_logprobs)},
                             {"text_offset", std::move(offsets)}};
}

boost::json::object ResponseBuilder::response(const CompletionOutput& output) const {
  if (dialect_ == ApiDialect::kWorkersAi) {
    boost::json::object result;
    result["response"] = output.content;
    boost::json::array calls;
    for (const chat::ToolCall& call : output.tool_calls) {
      boost::json::value arguments;
      boost::system::error_code ec;
      arguments = boost::json::parse(call.arguments, ec);
      if (ec) arguments = call.arguments;  // not JSON: passed on as text
      calls.push_back(boost::json::object{{"name", call.name}, {"arguments", std::move(arguments)}});
    }
    result["tool_calls"] = std::move(calls);
    result["usage"] = usage_json(output.usage);
    return boost::json::object{{"result", std::move(result)},
                               {"success", true},
                               {"errors", boost::json::array()},
                               {"messages", boost::json::array()}};
  }
  bool with_logprobs = !output.logprobs.empty();
  boost::json::object choice;
  choice["index"] = 0;
  boost::json::object body;
  body["id"] = id_;
  if (dialect_ == ApiDialect::kChatCompletions) {
    boost::json::object message;
    message["role"] = "assistant";
    message["content"] = output.content.empty() && !output.tool_calls.empty()
                             ? boost::json::value(nullptr)
                             : boost::json::value(output.content);
    message["refusal"] = nullptr;
    if (!output.tool_calls.empty()) message["tool_calls"] = chat::tool_calls_to_json(output.tool_calls);
    choice["message"] = std::move(message);
    choice["logprobs"] = with_logprobs ? chat_logprobs(output.logprobs) : boost::json::value(nullptr);
    body["object"] = "chat.completion";
  } else {
    choice["text"] = output.content;
    choice["logprobs"] =
        with_logprobs ? completion_logprobs(output.logprobs) : boost::json::value(nullptr);
    body["object"] = "text_completion";
  }
  choice["finish_reason"] = output.finish_reason;
  body["created"] = created_;
  body["model"] = model_;
  body["choices"] = boost::json::array{std::move(choice)};
  body["usage"] = usage_json(output.usage);
  return body;
}

boost::json::object ResponseBuilder::chunk(boost::json::object choice) const {
  boost::json::object body;
  body["id"] = id_;
  body["object"] = dialect_ == ApiDialect::kChatCompletions ? "chat.completion.chunk" : "text_completion";
  body["created"] = created_;
  body["model"] = model_;
  choice["index"] = 0;
  body["choices"] = boost::json::array{std::move(choice)};
  if (null_usage_) body["usage"] = nullptr;
  return body;
}

boost::json::object ResponseBuilder::first() const {
  if (dialect_ == ApiDialect::kWorkersAi) return boost::json::object{{"response", ""}};
  if (dialect_ == ApiDialect::kCompletions) {
    return chunk(boost::json::object{{"text", ""}, {"logprobs", nullptr}, {"finish_reason", nullptr}});
  }
  return chunk(boost::json::object{{"delta", boost::json::object{{"role", "assistant"}, {"content", ""}}},
                                   {"logprobs", nullptr},
                                   {"finish_reason", nullptr}});
}

boost::json::object ResponseBuilder::content(std::string_view text,
                                             std::span<const sampling::SampledToken> logprobs) const {
  if (dialect_ == ApiDialect::kWorkersAi) return boost::json::object{{"response", text}};
  boost::json::value lp = nullptr;
  if (!logprobs.empty()) {
    lp = dialect_ == ApiDialect::kChatCompletions ? chat_logprobs(logprobs) : completion_logprobs(logprobs);
  }
  if (dialect_ == ApiDialect::kCompletions) {
    return chunk(boost::json::object{{"text", text}, {"logprobs", std::move(lp)}, {"finish_reason", nullptr}});
  }
  return chunk(boost::json::object{{"delta", boost::json::object{{"content", text}}},
                                   {"logprobs", std::move(lp)},
                                   {"finish_reason", nullptr}});
}

boost::json::object ResponseBuilder::tool_call(const chat::ToolCallEvent& event) const {
  // Workers AI streams text only; tool calls come whole in the final event.
  if (dialect_ == ApiDialect::kWorkersAi) return boost::json::object{};
  boost::json::object delta = chat::tool_call_event_delta(event);
  if (delta.empty()) return delta;  // a call's end has no chunk
  return chunk(boost::json::object{{"delta", std::move(delta)}, {"logprobs", nullptr}, {"finish_reason", nullptr}});
}

boost::json::object ResponseBuilder::finish(const CompletionOutput& output) const {
  if (dialect_ == ApiDialect::kWorkersAi) {
    boost::json::object event{{"response", ""}};
    if (!output.tool_calls.empty()) {
      event["tool_calls"] = response(output).at("result").at("tool_calls");
    }
    event["usage"] = usage_json(output.usage);
    return event;
  }
  if (dialect_ == ApiDialect::kCompletions) {
    return chunk(boost::json::object{{"text", ""}, {"logprobs", nullptr},
                                     {"finish_reason", output.finish_reason}});
  }
  return chunk(boost::json::object{{"delta", boost::json::object{}},
                                   {"logprobs", nullptr},
                                   {"finish_reason", output.finish_reason}});
}

boost::json::object ResponseBuilder::usage(const TokenCounts& counts) const {
  boost::json::object body;
  body["id"] = id_;
  body["object"] = dialect_ == ApiDialect::kChatCompletions ? "chat.completion.chunk" : "text_completion";
  body["created"] = created_;
  body["model"] = model_;
  body["choices"] = boost::json::array();
  body["usage"] = usage_json(counts);
  return body;
}

std::string random_id(std::string_view prefix) {
  static constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::string id(prefix);
  std::uniform_int_distribution<size_t> pick(0, kAlphabet.size() - 1);
  for (int i = 0; i < 24; ++i) id.push_back(kAlphabet[pick(rng)]);
  return id;
}

}  // namespace tether::api
