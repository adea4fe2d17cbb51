#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "engine/model/model_config.h"

namespace tether::model {

// Rotary position embedding as llama.cpp applies it: per pair i of the first
// n_dims elements of a head, angle = pos * freq_base^(-2i/n_dims) /
// freq_factor[i] (llama3's rope_freqs.weight), then linear scaling divides
// positions by the factor and YaRN blends interpolated and extrapolated
// angles per frequency and scales cos/sin by its attention factor.
class Rope {
 public:
  // freq_factors: empty, or n_dims / 2 positive values.
  Rope(const RopeConfig& config, std::span<const float> freq_factors);

  int32_t n_pairs() const { return static_cast<int32_t>(inv_freq_.size()); }

  // cos and sin (n_pairs() each, already scaled by the attention factor) for
  // a position.
  void angles(int32_t pos, float* cos_out, float* sin_out) const;

  // Rotates the first n_dims elements of each of n_heads heads (head_dim
  // floats apart) in place with angles from angles().
  void apply(float* x, int32_t n_heads, int32_t head_dim, const float* cos_v,
             const float* sin_v) const;

 private:
  RopeConfig config_;
  std::vector<double> inv_freq_;  // base^(-2i/n_dims) / freq_factor[i]
  std::vector<float> ramp_;       // YaRN: weight of the extrapolated angle per pair
  float freq_scale_ = 1.0f;
  float mscale_ = 1.0f;
};

}  // namespace tether::model
