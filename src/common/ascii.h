#pragma once

#include <string>
#include <string_view>

namespace tether {

// `text` with A-Z lowered (header names, schemes, hosts, flag values);
// other bytes, UTF-8 included, stay as they are.
std::string ascii_lower(std::string_view text);

}  // namespace tether
