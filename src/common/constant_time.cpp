#include "common/constant_time.h"

#include <algorithm>
#include <cstddef>

namespace tether {

bool constant_time_equals(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  const size_t n = std::max(a.size(), b.size());
  for (size_t idx = 0; idx < n; ++idx) {
    const unsigned char x = idx < a.size() ? static_cast<unsigned char>(a[idx]) : 0;
    const unsigned char y = idx < b.size() ? static_cast<unsigned char>(b[idx]) : 0;
    diff |= static_cast<unsigned char>(x ^ y);
  }
  return diff == 0;
}

}  // namespace tether
