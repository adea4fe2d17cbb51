#include "engine/model/seeded_weights.h"

#include <cmath>
#include <cstring>

#include <xxhash.h>

#include "common/split_mix64.h"

// The weights must be the same bits on every machine and compiler (tests and
// goldens elsewhere depend on them), so no fused multiply-adds and no libm
// log, whose last bit differs between C libraries; sqrt is exact in IEEE 754.
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

namespace tether::model {
namespace {

// Natural log of a positive normal float from + - * / only: split off the
// exponent, then ln(m) = 2 atanh((m-1)/(m+1)) for m in [0.707, 1.414), whose
// series converges fast there (relative error below 2e-7).
float portable_log(float x) {
  uint32_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  int exponent = static_cast<int>((bits >> 23) & 0xFF) - 127;
  bits = (bits & 0x7FFFFFu) | 0x3F800000u;
  float m;
  std::memcpy(&m, &bits, sizeof m);
  if (m > 1.41421356f) {
    m *= 0.5f;
    ++exponent;
  }
  const float z = (m - 1.0f) / (m + 1.0f);
  const float z2 = z * z;
  const float series =
      z * (2.0f + z2 * (2.0f / 3.0f + z2 * (2.0f / 5.0f + z2 * (2.0f / 7.0f + z2 * (2.0f / 9.0f)))));
  return static_cast<float>(exponent) * 0.693147181f + series;
}

}  // namespace

SeededWeights::SeededWeights(uint64_t seed, std::string_view tensor_name)
    : stream_key_(XXH64(tensor_name.data(), tensor_name.size(), seed)) {}

void SeededWeights::fill_row(uint64_t row_idx, float mean, float std_dev,
                             std::span<float> out) const {
  // Mix the row index in before seeding so neighbouring rows start far apart.
  SplitMix64 mixer(stream_key_ ^ (row_idx * 0xD1B54A32D192ED03ull));
  SplitMix64 rng(mixer.next());
  // Marsaglia's polar method: two normals per accepted pair, no trigonometry.
  constexpr float kScale = 1.0f / 8388608.0f;  // 2^-23: 24-bit uniforms in [-1, 1)
  size_t i = 0;
  while (i < out.size()) {
    uint64_t bits = rng.next();
    float u = static_cast<float>(static_cast<int32_t>(bits & 0xFFFFFF) - 0x800000) * kScale;
    float v = static_cast<float>(static_cast<int32_t>((bits >> 24) & 0xFFFFFF) - 0x800000) * kScale;
    float s = u * u + v * v;
    if (s >= 1.0f || s == 0.0f) continue;
    float m = std::sqrt(-2.0f * portable_log(s) / s);
    out[i++] = mean + std_dev * (u * m);
    if (i < out.size()) out[i++] = mean + std_dev * (v * m);
  }
}

}  // namespace tether::model
