#include "store/store_ids.h"

#include <cstdint>
#include <mutex>
#include <random>

namespace tether::store {

std::string new_id(std::string_view prefix) {
  // One generator seeded from the OS; the mutex guards its state.
  static std::mutex mutex;
  static std::mt19937_64 generator = [] {
    std::random_device device;
    std::seed_seq seed{device(), device(), device(), device(), device(), device(), device(), device()};
    return std::mt19937_64(seed);
  }();
  uint64_t high = 0, low = 0;
  {
    std::lock_guard lock(mutex);
    high = generator();
    low = generator();
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id(prefix);
  id.reserve(prefix.size() + 24);
  for (int shift = 28; shift >= 0; shift -= 4) id.push_back(kHex[(high >> shift) & 0xf]);  // 8 digits
  for (int shift = 60; shift >= 0; shift -= 4) id.push_back(kHex[(low >> shift) & 0xf]);   // 16 digits
  return id;
}

}  // namespace tether::store
