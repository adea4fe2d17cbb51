#pragma once

#include <array>
#include <cstdint>

namespace tether::sampling {

// xoshiro256** seeded through splitmix64: a fixed algorithm, so a seed gives
// the same stream on every platform and standard library (unlike
// std::uniform_real_distribution, whose mapping is implementation-defined).
class RandomGenerator {
 public:
  explicit RandomGenerator(uint64_t seed);

  uint64_t next_u64();

  // Uniform in [0, 1) with 53 random bits.
  double next_unit_double() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }

 private:
  std::array<uint64_t, 4> state_{};
};

}  // namespace tether::sampling
