#include "jinja/call_args_util.h"

#include "common/error.h"

namespace tether::jinja::args {

const std::string* optional_string(const CallArgs& args, size_t index, std::string_view name) {
  const Value* value = args.find(index, name);
  if (!value || value->is_none() || value->is_undefined()) return nullptr;
  if (!value->is_string())
    throw_error(ErrorCode::kInvalidArgument, "argument '{}' must be a string, not '{}'", name, value->type_name());
  return &value->as_string();
}

std::string string_or(const CallArgs& args, size_t index, std::string_view name, std::string_view fallback) {
  const std::string* s = optional_string(args, index, name);
  return s ? *s : std::string(fallback);
}

int64_t int_or(const CallArgs& args, size_t index, std::string_view name, int64_t fallback) {
  const Value* value = args.find(index, name);
  if (!value || value->is_none() || value->is_undefined()) return fallback;
  if (!value->is_int() && !value->is_bool())
    throw_error(ErrorCode::kInvalidArgument, "argument '{}' must be an integer, not '{}'", name, value->type_name());
  return value->as_int();
}

bool bool_or(const CallArgs& args, size_t index, std::string_view name, bool fallback) {
  const Value* value = args.find(index, name);
  if (!value || value->is_undefined()) return fallback;
  return value->truthy();
}

const Value& required(const CallArgs& args, size_t index, std::string_view name, std::string_view function) {
  const Value* value = args.find(index, name);
  if (!value) throw_error(ErrorCode::kInvalidArgument, "{}() missing required argument '{}'", function, name);
  return *value;
}

}  // namespace tether::jinja::args
