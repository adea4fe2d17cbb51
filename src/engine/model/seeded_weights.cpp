#include "engine/model/seeded_weights.h"

#include <cmath>

#include <xxhash.h>

namespace tether::model {
namespace {

// SplitMix64: tiny, fast, and every seed (even 0) gives a full-quality stream.
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
    float m = std::sqrt(-2.0f * std::log(s) / s);
    out[i++] = mean + std_dev * (u * m);
    if (i < out.size()) out[i++] = mean + std_dev * (v * m);
  }
}

}  // namespace tether::model
