#pragma once

#include <optional>
#include <string>

#include "jinja/value.h"

namespace tether::jinja {

// `object.name` when it names a Python method Jinja2 would find there
// (str.strip, str.split, dict.items, dict.get, ...): a function bound to the
// object. Mutating methods (list.append) are absent, as in the sandboxed
// environment Hugging Face renders with.
std::optional<Value> bound_method(const Value& object, const std::string& name);

}  // namespace tether::jinja
