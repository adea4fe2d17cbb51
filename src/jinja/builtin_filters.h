#pragma once

#include <string_view>

#include "jinja/value.h"

namespace tether::jinja {

// Jinja2's filters with Hugging Face's tojson (json.dumps, ensure_ascii off).
bool has_filter(std::string_view name);
// Raises for an unknown filter name.
Value apply_filter(Interpreter& interpreter, std::string_view name, const Value& value, CallArgs& args);

}  // namespace tether::jinja
