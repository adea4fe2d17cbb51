#pragma once

#include <cstdint>
#include <string>
#include <vector>

// Inputs for the quantization tests whose expected bytes are pinned. They are
// made with exact IEEE additions and multiplications only (no libm, no
// <random> distributions), so every conforming platform builds the same floats
// and the pinned bytes, checked against ggml's reference quantizers, hold.
namespace tether::kernels::testing {

class BellNoise {
 public:
  explicit BellNoise(uint32_t seed) : state_(seed == 0 ? 0x9e3779b9u : seed) {}

  // Uniform in [0, 1) with 24 random bits.
  float uniform() {
    state_ ^= state_ << 13;
    state_ ^= state_ >> 17;
    state_ ^= state_ << 5;
    return static_cast<float>(state_ >> 8) * 0x1p-24f;
  }

  // Sum of four uniforms, centred: bell-shaped on (-2, 2), variance 1/3.
  float bell() {
    float sum = uniform();
    sum += uniform();
    sum += uniform();
    sum += uniform();
    return sum - 2.0f;
  }

 private:
  uint32_t state_;
};

inline std::vector<float> bell_values(uint32_t seed, size_t n, float scale) {
  BellNoise noise(seed);
  std::vector<float> values(n);
  for (float& value : values) value = noise.bell() * scale;
  return values;
}

// One 256-element block that walks the quantizers' corner cases: an all-zero
// sub-block, constant positive and negative sub-blocks, and outliers of both
// signs in otherwise small noise.
inline std::vector<float> corner_case_block() {
  std::vector<float> values = bell_values(11, 256, 0.1f);
  for (int i = 0; i < 32; ++i) values[i] = 0.0f;
  for (int i = 32; i < 64; ++i) values[i] = 0.5f;
  for (int i = 64; i < 96; ++i) values[i] = -0.25f;
  values[130] = 2.5f;
  values[200] = -3.0f;
  return values;
}

inline std::string to_hex(const std::vector<uint8_t>& bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(bytes.size() * 2);
  for (uint8_t byte : bytes) {
    hex.push_back(kDigits[byte >> 4]);
    hex.push_back(kDigits[byte & 0x0f]);
  }
  return hex;
}

// FNV-1a, to pin rows too long to spell out.
inline uint64_t fnv1a64(const std::vector<uint8_t>& bytes) {
  uint64_t hash = 0xcbf29ce484222325ull;
  for (uint8_t byte : bytes) {
    hash ^= byte;
    hash *= 0x100000001b3ull;
  }
  return hash;
}

}  // namespace tether::kernels::testing
