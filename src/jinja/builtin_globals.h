#pragma once

#include "jinja/value.h"

namespace tether::jinja {

// Functions every template sees: range, namespace, dict, and Hugging Face's
// raise_exception and strftime_now. Built once, shared read-only.
const Object& builtin_globals();

}  // namespace tether::jinja
