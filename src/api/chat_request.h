#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <boost/json/array.hpp>
#include <boost/json/value.hpp>

#include "engine/sampling/sampling_params.h"

namespace tether::api {

enum class ResponseFormatType { kText, kJsonObject, kJsonSchema };

struct ResponseFormat {
  ResponseFormatType type = ResponseFormatType::kText;
  boost::json::value schema;  // kJsonSchema: the JSON Schema
  std::string name;           // kJsonSchema: json_schema.name
  bool strict = false;
};

// Which API shape a request came in; responses answer in the same shape.
enum class ApiDialect { kChatCompletions, kCompletions, kWorkersAi };

// One inference request as the API layer understands it, whichever route
// brought it. Parsing checks every field's type and range (400 naming the
// field); what needs the model (the vocabulary, the context length, the
// tools' schemas against the grammar) is checked when it is prepared.
struct ChatRequest {
  ApiDialect dialect = ApiDialect::kChatCompletions;
  std::string model;
  bool chat = true;                    // messages (chat) or a raw prompt
  boost::json::array messages;         // chat: OpenAI message objects, checked
  std::string prompt;                  // raw prompt: text ...
  std::vector<int32_t> prompt_tokens;  // ... or token ids (/v1/completions)
  std::optional<int32_t> max_tokens;   // unset: up to the context's end (Workers AI: 256)
  std::vector<std::string> stop;
  sampling::SamplingParams sampling;
  std::string user;
  ResponseFormat response_format;
  boost::json::array tools;            // OpenAI tool objects as sent
  boost::json::value tool_choice;      // as sent; null when absent
  bool parallel_tool_calls = true;
  bool stream = false;
  bool include_usage = false;          // stream_options.include_usage
  std::string cache_salt;              // extension: prefix-cache isolation
};

// POST /v1/chat/completions. Throws http::HttpError (400) naming the first bad field.
ChatRequest parse_chat_completion_request(const boost::json::value& body);
// POST /v1/completions.
ChatRequest parse_completion_request(const boost::json::value& body);
// POST /ai/run/{model}: `messages` or `prompt`, Workers AI's parameter names.
ChatRequest parse_workers_ai_request(const boost::json::value& body, std::string model);

}  // namespace tether::api
