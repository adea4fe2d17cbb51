#pragma once

#include <cstdint>

namespace tether {

// SplitMix64: a tiny, fast generator whose stream is fixed by its algorithm,
// so a seed gives the same numbers on every platform, and every seed (even 0)
// gives a full-quality stream. Used directly and to seed larger generators.
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t state) : state_(state) {}

  uint64_t next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }

 private:
  uint64_t state_;
};

}  // namespace tether
