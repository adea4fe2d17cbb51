#include "chat/tool_call_messages.h"

#include <string>

#include <boost/json.hpp>

#include "common/error.h"

namespace tether::chat {
namespace {

namespace json = boost::json;

json::string flatten_parts(const json::array& parts, size_t message_idx) {
  json::string text;
  size_t part_idx = 0;
  for (const json::value& part : parts) {
    const std::string where = fmt::format("messages[{}].content[{}]", message_idx, part_idx);
    if (!part.is_object()) throw_error(ErrorCode::kInvalidArgument, "{} must be an object", where);
    const json::value* type = part.get_object().if_contains("type");
    if (type == nullptr) throw_error(ErrorCode::kInvalidArgument, "{}.type is missing", where);
    if (!type->is_string() || type->get_string() != "text") {
      throw_error(ErrorCode::kInvalidArgument, "{}.type must be \"text\" (this model reads text only)", where);
    }
    const json::value* part_text = part.get_object().if_contains("text");
    if (part_text == nullptr) throw_error(ErrorCode::kInvalidArgument, "{}.text is missing", where);
    if (!part_text->is_string()) throw_error(ErrorCode::kInvalidArgument, "{}.text must be a string", where);
    if (part_idx > 0) text.append("\n");
    text.append(part_text->get_string());
    ++part_idx;
  }
  return text;
}

void parse_arguments(json::object& message, size_t message_idx) {
  json::value* tool_calls = message.if_contains("tool_calls");
  if (tool_calls == nullptr || tool_calls->is_null()) return;
  if (!tool_calls->is_array()) {
    throw_error(ErrorCode::kInvalidArgument, "messages[{}].tool_calls must be an array", message_idx);
  }
  size_t call_idx = 0;
  for (json::value& call : tool_calls->get_array()) {
    const std::string where = fmt::format("messages[{}].tool_calls[{}]", message_idx, call_idx++);
    if (!call.is_object()) throw_error(ErrorCode::kInvalidArgument, "{} must be an object", where);
    json::value* function = call.get_object().if_contains("function");
    if (function == nullptr) throw_error(ErrorCode::kInvalidArgument, "{}.function is missing", where);
    if (!function->is_object()) throw_error(ErrorCode::kInvalidArgument, "{}.function must be an object", where);
    const json::value* name = function->get_object().if_contains("name");
    if (name == nullptr) throw_error(ErrorCode::kInvalidArgument, "{}.function.name is missing", where);
    if (!name->is_string()) throw_error(ErrorCode::kInvalidArgument, "{}.function.name must be a string", where);
    json::value* arguments = function->get_object().if_contains("arguments");
    if (arguments == nullptr || !arguments->is_string()) continue;
    boost::system::error_code error;
    json::value parsed = json::parse(arguments->get_string(), error);
    if (!error && parsed.is_object()) *arguments = std::move(parsed);
  }
}

}  // namespace

json::array prepare_messages_for_template(const json::array& openai_messages) {
  json::array prepared;
  prepared.reserve(openai_messages.size());
  size_t message_idx = 0;
  for (const json::value& message : openai_messages) {
    if (!message.is_object()) throw_error(ErrorCode::kInvalidArgument, "messages[{}] must be an object", message_idx);
    json::object copy = message.get_object();
    if (json::value* content = copy.if_contains("content"); content != nullptr && content->is_array()) {
      *content = flatten_parts(content->get_array(), message_idx);
    }
    parse_arguments(copy, message_idx);
    prepared.emplace_back(std::move(copy));
    ++message_idx;
  }
  return prepared;
}

}  // namespace tether::chat
