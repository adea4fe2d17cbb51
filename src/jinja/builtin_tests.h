#pragma once

#include <string_view>

#include "jinja/value.h"

namespace tether::jinja {

// Jinja2's tests (`x is defined`, `x is divisibleby 3`, ...).
bool has_test(std::string_view name);
// Raises for an unknown test name.
bool apply_test(Interpreter& interpreter, std::string_view name, const Value& value, CallArgs& args);

}  // namespace tether::jinja
