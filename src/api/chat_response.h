#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

#include "api/chat_request.h"
#include "chat/tool_call.h"
#include "chat/tool_call_parser.h"
#include "engine/sampling/sampler.h"

namespace tether::api {

struct TokenCounts {
  int32_t prompt = 0;
  int32_t cached = 0;  // of prompt, served from the prefix cache
  int32_t completion = 0;
};

// Everything one finished request answers.
struct CompletionOutput {
  std::string content;                     // text outside tool calls
  std::vector<chat::ToolCall> tool_calls;  // arguments: JSON text, as OpenAI carries it
  std::string finish_reason = "stop";      // stop, length, tool_calls
  std::vector<sampling::SampledToken> logprobs;  // per token when asked
  TokenCounts usage;
};

// OpenAI's usage object; prompt_tokens_details.cached_tokens always present.
boost::json::object usage_json(const TokenCounts& counts);

// Builds the JSON bodies and stream chunks of one request in the dialect it
// came in: chat.completion(.chunk), text_completion, or Workers AI's
// {"result": ...} envelope and {"response": ...} stream events.
class ResponseBuilder {
 public:
  using TokenText = std::function<std::string(int32_t id)>;

  ResponseBuilder(ApiDialect dialect, std::string model, std::string id, int64_t created,
                  TokenText token_text);

  boost::json::object response(const CompletionOutput& output) const;

  // Stream chunks, in order: first(), then content() / tool_call() any
  // number of times, then finish(), then usage() if asked for.
  boost::json::object first() const;  // chat: the assistant role; others: empty text
  boost::json::object content(std::string_view text,
                              std::span<const sampling::SampledToken> logprobs) const;
  // A tool call's opening (id and name) or a fragment of its arguments;
  // empty for a call's end and for Workers AI (calls come whole at the end).
  boost::json::object tool_call(const chat::ToolCallEvent& event) const;
  boost::json::object finish(const CompletionOutput& output) const;
  boost::json::object usage(const TokenCounts& counts) const;
  // Whether every chunk carries "usage": null before the usage chunk (OpenAI
  // does when stream_options.include_usage is set).
  void set_null_usage_in_chunks(bool on) { null_usage_ = on; }

  const std::string& id() const { return id_; }
  ApiDialect dialect() const { return dialect_; }

 private:
  boost::json::object chunk(boost::json::object choice) const;
  boost::json::value chat_logprobs(std::span<const sampling::SampledToken> logprobs) const;
  boost::json::value completion_logprobs(std::span<const sampling::SampledToken> logprobs) const;

  ApiDialect dialect_;
  std::string model_;
  std::string id_;
  int64_t created_;
  TokenText token_text_;
  bool null_usage_ = false;
};

// A fresh id: prefix + 24 random alphanumerics (e.g. "chatcmpl-", "call_").
std::string random_id(std::string_view prefix);

}  // namespace tether::api
