#pragma once

#include <string_view>

namespace tether {

// Compares secrets (API keys, signatures) in time that depends on their
// lengths only, not on where they first differ.
bool constant_time_equals(std::string_view a, std::string_view b);

}  // namespace tether
