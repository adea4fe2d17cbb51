#include "api/chat_request.h"

#include <charconv>
#include <cmath>
#include <limits>

#include "api/invalid_param.h"
#include "api/json_reader.h"

namespace tether::api {

namespace {

constexpr int64_t kMaxTokensLimit = 1 << 24;
constexpr size_t kMaxStopStrings = 16;  // OpenAI allows 4; more costs nothing real
constexpr size_t kMaxLogitBias = 8192;  // OpenAI allows 300; benchmarks ban more

const JsonReader body_reader(const boost::json::value& body) {
  if (!body.is_object()) {
    throw http::HttpError::bad_request(
        fmt::format("the request body must be a JSON object, not {}", json_type_name(body)));
  }
  return JsonReader(body.get_object());
}

// stop: a string or an array of strings.
std::vector<std::string> read_stop(const JsonReader& reader) {
  std::vector<std::string> stops;
  const boost::json::value* stop = reader.value("stop");
  if (stop == nullptr) return stops;
  if (stop->is_string()) {
    if (!stop->get_string().empty()) stops.emplace_back(stop->get_string());
    return stops;
  }
  if (!stop->is_array()) {
    throw_invalid_param("stop", "'stop' must be a string or an array of strings, not {}",
                        json_type_name(*stop));
  }
  if (stop->get_array().size() > kMaxStopStrings) {
    throw_invalid_param("stop", "'stop' has {} strings; at most {} are allowed",
                        stop->get_array().size(), kMaxStopStrings);
  }
  for (size_t i = 0; i < stop->get_array().size(); ++i) {
    const boost::json::value& item = stop->get_array()[i];
    if (!item.is_string()) {
      throw_invalid_param(fmt::format("stop[{}]", i), "'stop[{}]' must be a string, not {}", i,
                          json_type_name(item));
    }
    if (!item.get_string().empty()) stops.emplace_back(item.get_string());
  }
  return stops;
}

// logit_bias: {"token id": bias in [-100, 100]}; -100 bans the token.
std::vector<std::pair<int32_t, float>> read_logit_bias(const JsonReader& reader) {
  std::vector<std::pair<int32_t, float>> biases;
  const boost::json::object* object = reader.object("logit_bias");
  if (object == nullptr) return biases;
  if (object->size() > kMaxLogitBias) {
    throw_invalid_param("logit_bias", "'logit_bias' has {} entries; at most {} are allowed",
                        object->size(), kMaxLogitBias);
  }
  JsonReader entries(*object, "logit_bias");
  for (const auto& entry : *object) {
    std::string_view key = entry.key();
    int32_t id = -1;
    auto [end, ec] = std::from_chars(key.data(), key.data() + key.size(), id);
    if (ec != std::errc() || end != key.data() + key.size() || id < 0) {
      throw_invalid_param("logit_bias", "'logit_bias' keys must be token ids, got '{}'", key);
    }
    double bias = *entries.number(key, -100.0, 100.0);
    biases.emplace_back(id, bias <= -100.0 ? -std::numeric_limits<float>::infinity()
                                           : static_cast<float>(bias));
  }
  return biases;
}

// The sampling fields every dialect shares, plus the extensions.
void read_sampling(const JsonReader& reader, ChatRequest& request) {
  sampling::SamplingParams& s = request.sampling;
  if (auto v = reader.number("temperature", 0.0, 2.0)) s.temperature = static_cast<float>(*v);
  if (auto v = reader.number("top_p", 0.0, 1.0)) {
    // top_p 0 keeps only the most likely token, which the sampler spells as a tiny mass.
    s.top_p = *v > 0.0 ? static_cast<float>(*v) : std::numeric_limits<float>::min();
  }
  if (auto v = reader.integer("seed", std::numeric_limits<int64_t>::min(),
                              std::numeric_limits<int64_t>::max())) {
    s.seed = static_cast<uint64_t>(*v);
  }
  if (auto v = reader.number("presence_penalty", -2.0, 2.0)) s.presence_penalty = static_cast<float>(*v);
  if (auto v = reader.number("frequency_penalty", -2.0, 2.0)) s.frequency_penalty = static_cast<float>(*v);
  if (auto v = reader.number("repetition_penalty", 0.01, 10.0)) s.repetition_penalty = static_cast<float>(*v);
  if (auto v = reader.integer("top_k", 0, std::numeric_limits<int32_t>::max())) s.top_k = static_cast<int32_t>(*v);
  if (auto v = reader.number("min_p", 0.0, 1.0)) s.min_p = static_cast<float>(*v);
  if (auto v = reader.boolean("ignore_eos")) s.ignore_eos = *v;
  s.logit_bias = read_logit_bias(reader);
  request.stop = read_stop(reader);
  if (auto v = reader.string("user")) request.user = *v;
  if (auto v = reader.string("cache_salt")) request.cache_salt = *v;
  if (auto v = reader.boolean("stream")) request.stream = *v;
  if (const boost::json::object* options = reader.object("stream_options")) {
    if (auto v = JsonReader(*options, "stream_options").boolean("include_usage")) {
      request.include_usage = *v;
    }
  }
  if (auto n = reader.integer("n", 1, 128); n && *n != 1) {
    throw_invalid_param("n", "'n' must be 1: tether generates one choice per request, got {}", *n);
  }
}

void read_max_tokens(const JsonReader& reader, ChatRequest& request) {
  for (const char* key : {"max_completion_tokens", "max_tokens"}) {
    if (auto v = reader.integer(key, 1, kMaxTokensLimit)) {
      request.max_tokens = static_cast<int32_t>(*v);
      return;
    }
  }
}

// content: a string, null (assistant messages with tool calls), or text parts.
void check_content(const boost::json::object& message, const std::string& path,
                   const std::string& role) {
  const boost::json::value* content = message.if_contains("content");
  std::string param = path + ".content";
  if (content == nullptr || content->is_null()) {
    if (role == "assistant") return;
    throw_invalid_param(param, "'{}' is required for a {} message", param, role);
  }
  if (content->is_string()) return;
  if (!content->is_array()) {
    throw_invalid_param(param, "'{}' must be a string or an array of content parts, not {}", param,
                        json_type_name(*content));
  }
  const boost::json::array& parts = content->get_array();
  for (size_t i = 0; i < parts.size(); ++i) {
    std::string part_param = fmt::format("{}[{}]", param, i);
    if (!parts[i].is_object()) {
      throw_invalid_param(part_param, "'{}' must be an object, not {}", part_param,
                          json_type_name(parts[i]));
    }
    JsonReader part(parts[i].get_object(), part_param);
    std::string type = part.required_string("type");
    if (type != "text") {
      throw_invalid_param(part.param("type"),
                          "content parts of type '{}' are not supported: this model reads text only",
                          type);
    }
    part.required_string("text");
  }
}

boost::json::array read_messages(const JsonReader& reader) {
  const boost::json::array* messages = reader.array("messages");
  if (messages == nullptr) throw_invalid_param("messages", "'messages' is required");
  if (messages->empty()) throw_invalid_param("messages", "'messages' must not be empty");
  for (size_t i = 0; i < messages->size(); ++i) {
    std::string path = fmt::format("messages[{}]", i);
    const boost::json::value& item = (*messages)[i];
    if (!item.is_object()) {
      throw_invalid_param(path, "'{}' must be an object, not {}", path, json_type_name(item));
    }
    JsonReader message(item.get_object(), path);
    std::string role = message.required_string("role");
    if (role != "system" && role != "developer" && role != "user" && role != "assistant" &&
        role != "tool") {
      throw_invalid_param(message.param("role"),
                          "'{}' is '{}'; it must be system, developer, user, assistant or tool",
                          message.param("role"), role);
    }
    check_content(item.get_object(), path, role);
    message.array("tool_calls");
    message.string("tool_call_id");
    message.string("name");
  }
  return *messages;
}

ResponseFormat read_response_format(const JsonReader& reader) {
  ResponseFormat format;
  const boost::json::object* object = reader.object("response_format");
  if (object == nullptr) return format;
  JsonReader fields(*object, "response_format");
  std::string type = fields.required_string("type");
  if (type == "text") return format;
  if (type == "json_object") {
    format.type = ResponseFormatType::kJsonObject;
    return format;
  }
  if (type != "json_schema") {
    throw_invalid_param(fields.param("type"),
                        "'{}' is '{}'; it must be text, json_object or json_schema",
                        fields.param("type"), type);
  }
  format.type = ResponseFormatType::kJsonSchema;
  const boost::json::object* spec = fields.object("json_schema");
  if (spec == nullptr) {
    throw_invalid_param(fields.param("json_schema"), "'{}' is required for type json_schema",
                        fields.param("json_schema"));
  }
  // OpenAI nests {"name", "schema", "strict"}; Workers AI puts the schema itself there.
  JsonReader schema_fields(*spec, fields.param("json_schema"));
  if (const boost::json::value* schema = schema_fields.value("schema")) {
    if (!schema->is_object() && !schema->is_bool()) {
      throw_invalid_param(schema_fields.param("schema"), "'{}' must be an object, not {}",
                          schema_fields.param("schema"), json_type_name(*schema));
    }
    format.schema = *schema;
    format.name = schema_fields.string("name").value_or("");
    format.strict = schema_fields.boolean("strict").value_or(false);
  } else if (spec->contains("name") && !spec->contains("type") && !spec->contains("properties")) {
    throw_invalid_param(schema_fields.param("schema"), "'{}' is required",
                        schema_fields.param("schema"));
  } else {
    format.schema = *spec;
  }
  return format;
}

void read_tools(const JsonReader& reader, ChatRequest& request) {
  if (const boost::json::array* tools = reader.array("tools")) request.tools = *tools;
  if (const boost::json::value* choice = reader.value("tool_choice")) {
    if (!choice->is_string() && !choice->is_object()) {
      throw_invalid_param("tool_choice", "'tool_choice' must be a string or an object, not {}",
                          json_type_name(*choice));
    }
    request.tool_choice = *choice;
  }
  if (auto v = reader.boolean("parallel_tool_calls")) request.parallel_tool_calls = *v;
}

}  // namespace

ChatRequest parse_chat_completion_request(const boost::json::value& body) {
  JsonReader reader = body_reader(body);
  ChatRequest request;
  request.model = reader.required_string("model");
  request.messages = read_messages(reader);
  read_max_tokens(reader, request);
  read_sampling(reader, request);
  if (auto v = reader.boolean("logprobs")) request.sampling.logprobs = *v;
  if (auto v = reader.integer("top_logprobs", 0, 20)) {
    if (!request.sampling.logprobs && *v > 0) {
      throw_invalid_param("top_logprobs", "'top_logprobs' requires 'logprobs' to be true");
    }
    request.sampling.n_logprobs = static_cast<int32_t>(*v);
  }
  request.response_format = read_response_format(reader);
  read_tools(reader, request);
  return request;
}

ChatRequest parse_completion_request(const boost::json::value& body) {
  JsonReader reader = body_reader(body);
  ChatRequest request;
  request.dialect = ApiDialect::kCompletions;
  request.chat = false;
  request.model = reader.required_string("model");
  const boost::json::value* prompt = reader.value("prompt");
  if (prompt == nullptr) throw_invalid_param("prompt", "'prompt' is required");
  const boost::json::value* single = prompt;
  if (prompt->is_array() && !prompt->get_array().empty() && !prompt->get_array()[0].is_number()) {
    if (prompt->get_array().size() != 1) {
      throw_invalid_param("prompt", "'prompt' must hold one prompt: tether answers one choice per request");
    }
    single = &prompt->get_array()[0];
  }
  if (single->is_string()) {
    request.prompt = std::string(single->get_string());
  } else if (single->is_array()) {
    for (size_t i = 0; i < single->get_array().size(); ++i) {
      const boost::json::value& id = single->get_array()[i];
      if (!id.is_int64() && !id.is_uint64()) {
        throw_invalid_param("prompt", "'prompt' token arrays must hold integers; item {} is {}", i,
                            json_type_name(id));
      }
      int64_t value = id.is_int64() ? id.get_int64() : static_cast<int64_t>(std::min<uint64_t>(id.get_uint64(), INT64_MAX));
      if (value < 0 || value > std::numeric_limits<int32_t>::max()) {
        throw_invalid_param("prompt", "'prompt' token id {} is out of range", value);
      }
      request.prompt_tokens.push_back(static_cast<int32_t>(value));
    }
  } else {
    throw_invalid_param("prompt", "'prompt' must be a string, an array of strings or of token ids, not {}",
                        json_type_name(*single));
  }
  if (request.prompt.empty() && request.prompt_tokens.empty()) {
    throw_invalid_param("prompt", "'prompt' must not be empty");
  }
  request.max_tokens = 16;  // the legacy API's default
  read_max_tokens(reader, request);
  read_sampling(reader, request);
  if (auto v = reader.integer("logprobs", 0, 5)) {
    request.sampling.logprobs = *v > 0;
    request.sampling.n_logprobs = static_cast<int32_t>(*v);
  }
  if (auto v = reader.boolean("echo"); v && *v) {
    throw_invalid_param("echo", "'echo' is not supported");
  }
  if (auto v = reader.string("suffix"); v && !v->empty()) {
    throw_invalid_param("suffix", "'suffix' is not supported");
  }
  if (auto v = reader.integer("best_of", 1, 128); v && *v != 1) {
    throw_invalid_param("best_of", "'best_of' must be 1");
  }
  return request;
}

ChatRequest parse_workers_ai_request(const boost::json::value& body, std::string model) {
  JsonReader reader = body_reader(body);
  ChatRequest request;
  request.dialect = ApiDialect::kWorkersAi;
  request.model = std::move(model);
  if (reader.value("messages") != nullptr) {
    request.messages = read_messages(reader);
  } else if (auto prompt = reader.string("prompt")) {
    if (prompt->empty()) throw_invalid_param("prompt", "'prompt' must not be empty");
    if (reader.boolean("raw").value_or(false)) {
      request.chat = false;  // raw: the prompt goes to the model as is
      request.prompt = *prompt;
    } else {
      // Workers AI renders a prompt through the chat template as a user turn.
      request.messages.push_back(boost::json::object{{"role", "user"}, {"content", *prompt}});
    }
  } else {
    throw_invalid_param("messages", "one of 'messages' or 'prompt' is required");
  }
  request.max_tokens = 256;  // Workers AI's default
  read_max_tokens(reader, request);
  read_sampling(reader, request);
  request.response_format = read_response_format(reader);
  read_tools(reader, request);
  return request;
}

}  // namespace tether::api
