#include "chat/tool_call_request.h"

#include <set>

#include <boost/json.hpp>

#include "common/error.h"

namespace tether::chat {
namespace {

namespace json = boost::json;

constexpr size_t kMaxToolNameChars = 64;

bool valid_tool_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxToolNameChars) return false;
  for (const char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::string_view kind_of(const json::value& value) {
  switch (value.kind()) {
    case json::kind::null: return "null";
    case json::kind::bool_: return "a boolean";
    case json::kind::int64:
    case json::kind::uint64:
    case json::kind::double_: return "a number";
    case json::kind::string: return "a string";
    case json::kind::array: return "an array";
    case json::kind::object: return "an object";
  }
  return "a value";
}

}  // namespace

void validate_tools(const json::value& tools) {
  if (!tools.is_array()) throw_error(ErrorCode::kInvalidArgument, "tools must be an array, not {}", kind_of(tools));
  std::set<std::string, std::less<>> names;
  size_t tool_idx = 0;
  for (const json::value& tool : tools.get_array()) {
    const std::string where = fmt::format("tools[{}]", tool_idx++);
    if (!tool.is_object()) throw_error(ErrorCode::kInvalidArgument, "{} must be an object, not {}", where, kind_of(tool));
    const json::object& object = tool.get_object();
    const json::value* type = object.if_contains("type");
    if (type == nullptr) throw_error(ErrorCode::kInvalidArgument, "{}.type is missing", where);
    if (!type->is_string() || type->get_string() != "function") {
      throw_error(ErrorCode::kInvalidArgument, "{}.type must be \"function\"", where);
    }
    const json::value* function = object.if_contains("function");
    if (function == nullptr) throw_error(ErrorCode::kInvalidArgument, "{}.function is missing", where);
    if (!function->is_object()) {
      throw_error(ErrorCode::kInvalidArgument, "{}.function must be an object, not {}", where, kind_of(*function));
    }
    const json::object& fn = function->get_object();
    const json::value* name = fn.if_contains("name");
    if (name == nullptr) throw_error(ErrorCode::kInvalidArgument, "{}.function.name is missing", where);
    if (!name->is_string()) {
      throw_error(ErrorCode::kInvalidArgument, "{}.function.name must be a string, not {}", where, kind_of(*name));
    }
    if (!valid_tool_name(name->get_string())) {
      throw_error(ErrorCode::kInvalidArgument,
                  "{}.function.name must be 1 to 64 characters of a-z, A-Z, 0-9, '_' or '-'", where);
    }
    if (!names.emplace(name->get_string()).second) {
      throw_error(ErrorCode::kInvalidArgument, "{}.function.name \"{}\" is used by an earlier tool", where,
                  std::string_view(name->get_string()));
    }
    if (const json::value* description = fn.if_contains("description");
        description != nullptr && !description->is_string() && !description->is_null()) {
      throw_error(ErrorCode::kInvalidArgument, "{}.function.description must be a string, not {}", where,
                  kind_of(*description));
    }
    if (const json::value* parameters = fn.if_contains("parameters");
        parameters != nullptr && !parameters->is_object() && !parameters->is_null()) {
      throw_error(ErrorCode::kInvalidArgument, "{}.function.parameters must be a JSON Schema object, not {}", where,
                  kind_of(*parameters));
    }
    if (const json::value* strict = fn.if_contains("strict");
        strict != nullptr && !strict->is_bool() && !strict->is_null()) {
      throw_error(ErrorCode::kInvalidArgument, "{}.function.strict must be a boolean, not {}", where, kind_of(*strict));
    }
  }
}

ToolChoice parse_tool_choice(const json::value* tool_choice, const json::array& tools) {
  if (tool_choice == nullptr || tool_choice->is_null()) {
    return ToolChoice{tools.empty() ? ToolChoice::Mode::kNone : ToolChoice::Mode::kAuto, ""};
  }
  if (tool_choice->is_string()) {
    const std::string_view mode = tool_choice->get_string();
    if (mode == "none") return ToolChoice{ToolChoice::Mode::kNone, ""};
    if (mode == "auto") return ToolChoice{ToolChoice::Mode::kAuto, ""};
    if (mode == "required") {
      if (tools.empty()) throw_error(ErrorCode::kInvalidArgument, "tool_choice \"required\" needs a non-empty tools");
      return ToolChoice{ToolChoice::Mode::kRequired, ""};
    }
    throw_error(ErrorCode::kInvalidArgument, "tool_choice must be \"none\", \"auto\", \"required\" or an object");
  }
  if (!tool_choice->is_object()) {
    throw_error(ErrorCode::kInvalidArgument, "tool_choice must be a string or an object, not {}", kind_of(*tool_choice));
  }
  const json::object& object = tool_choice->get_object();
  const json::value* type = object.if_contains("type");
  if (type == nullptr || !type->is_string() || type->get_string() != "function") {
    throw_error(ErrorCode::kInvalidArgument, "tool_choice.type must be \"function\"");
  }
  const json::value* function = object.if_contains("function");
  if (function == nullptr || !function->is_object()) {
    throw_error(ErrorCode::kInvalidArgument, "tool_choice.function must be an object with a name");
  }
  const json::value* name = function->get_object().if_contains("name");
  if (name == nullptr) throw_error(ErrorCode::kInvalidArgument, "tool_choice.function.name is missing");
  if (!name->is_string()) throw_error(ErrorCode::kInvalidArgument, "tool_choice.function.name must be a string");
  for (const json::value& tool : tools) {
    if (tool_name(tool) == name->get_string()) return ToolChoice{ToolChoice::Mode::kFunction, std::string(name->get_string())};
  }
  throw_error(ErrorCode::kInvalidArgument, "tool_choice.function.name \"{}\" is not one of the tools",
              std::string_view(name->get_string()));
}

std::string tool_name(const json::value& tool) {
  return std::string(tool.at("function").at("name").as_string());
}

json::value tool_parameters(const json::value& tool) {
  const json::value* parameters = tool.at("function").get_object().if_contains("parameters");
  if (parameters != nullptr && parameters->is_object()) return *parameters;
  return json::object{{"type", "object"}, {"properties", json::object{}}};
}

}  // namespace tether::chat
