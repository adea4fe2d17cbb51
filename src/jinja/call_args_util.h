#pragma once

#include <string>
#include <string_view>

#include "jinja/value.h"

// Reading typed arguments of filters, tests, methods and global functions.
namespace tether::jinja::args {

// Null when the argument is absent or None.
const std::string* optional_string(const CallArgs& args, size_t index, std::string_view name);
std::string string_or(const CallArgs& args, size_t index, std::string_view name, std::string_view fallback);
int64_t int_or(const CallArgs& args, size_t index, std::string_view name, int64_t fallback);
bool bool_or(const CallArgs& args, size_t index, std::string_view name, bool fallback);
const Value& required(const CallArgs& args, size_t index, std::string_view name, std::string_view function);

}  // namespace tether::jinja::args
