#pragma once

#include <string>
#include <string_view>

namespace tether::store {

// `prefix` followed by 24 random lowercase hex digits (96 bits): job,
// event and file ids of both store backends. Thread-safe.
std::string new_id(std::string_view prefix);

}  // namespace tether::store
