#pragma once

#include <boost/json/value.hpp>

#include "jinja/value.h"

namespace tether::jinja {

// Converts parsed JSON (request messages, tools) into template values, keeping
// object key order and the int/float distinction Python's json module keeps.
// Nesting deeper than kMaxJsonDepth is refused with Error(kInvalidArgument).
inline constexpr int kMaxJsonDepth = 64;
Value from_json(const boost::json::value& json);

}  // namespace tether::jinja
