#include "engine/model/rope.h"

#include <algorithm>
#include <cmath>

#include "common/error.h"

namespace tether::model {
namespace {

// The pair index at which a frequency completes `n_rotations` turns over the
// original context (YaRN's correction range boundary).
double yarn_corr_dim(int32_t n_dims, int32_t original_context, double n_rotations, double base) {
  return n_dims * std::log(original_context / (n_rotations * 2.0 * M_PI)) / (2.0 * std::log(base));
}

}  // namespace

Rope::Rope(const RopeConfig& config, std::span<const float> freq_factors) : config_(config) {
  const int32_t n_pairs = config.n_dims / 2;
  if (!freq_factors.empty() && static_cast<int32_t>(freq_factors.size()) != n_pairs) {
    throw_error(ErrorCode::kInvalidArgument, "rope: {} frequency factors for {} pairs",
                freq_factors.size(), n_pairs);
  }
  inv_freq_.resize(n_pairs);
  for (int32_t i = 0; i < n_pairs; ++i) {
    double inv = std::pow(static_cast<double>(config.freq_base), -2.0 * i / config.n_dims);
    if (!freq_factors.empty()) inv /= freq_factors[i];
    inv_freq_[i] = inv;
  }
  mscale_ = config.attn_factor;
  if (config.scaling != RopeScalingType::kNone) freq_scale_ = 1.0f / config.factor;
  if (config.scaling == RopeScalingType::kYarn && config.yarn_ext_factor != 0.0f) {
    const double low = std::max(
        0.0, std::floor(yarn_corr_dim(config.n_dims, config.original_context,
                                      config.yarn_beta_fast, config.freq_base)));
    const double high = std::min(
        static_cast<double>(config.n_dims - 1),
        std::ceil(yarn_corr_dim(config.n_dims, config.original_context, config.yarn_beta_slow,
                                config.freq_base)));
    ramp_.resize(n_pairs);
    for (int32_t i = 0; i < n_pairs; ++i) {
      const double y = (i - low) / std::max(0.001, high - low);
      ramp_[i] = static_cast<float>((1.0 - std::clamp(y, 0.0, 1.0)) * config.yarn_ext_factor);
    }
    // YaRN's attention temperature: cos/sin grow with the log of the stretch.
    mscale_ *= 1.0f + 0.1f * std::log(config.factor);
  }
}

void Rope::angles(int32_t pos, float* cos_out, float* sin_out) const {
  for (size_t i = 0; i < inv_freq_.size(); ++i) {
    const double extrapolated = pos * inv_freq_[i];
    double theta = extrapolated * freq_scale_;
    if (!ramp_.empty()) theta = theta * (1.0 - ramp_[i]) + extrapolated * ramp_[i];
    cos_out[i] = static_cast<float>(std::cos(theta)) * mscale_;
    sin_out[i] = static_cast<float>(std::sin(theta)) * mscale_;
  }
}

void Rope::apply(float* x, int32_t n_heads, int32_t head_dim, const float* cos_v,
                 const float* sin_v) const {
  const int32_t n_pairs = this->n_pairs();
  const bool neox = config_.ordering == RopeOrdering::kNeox;
  for (int32_t head = 0; head < n_heads; ++head) {
    float* h = x + static_cast<int64_t>(head) * head_dim;
    for (int32_t i = 0; i < n_pairs; ++i) {
      float& a = neox ? h[i] : h[2 * i];
      float& b = neox ? h[i + n_pairs] : h[2 * i + 1];
      const float x0 = a, x1 = b;
      a = x0 * cos_v[i] - x1 * sin_v[i];
      b = x0 * sin_v[i] + x1 * cos_v[i];
    }
  }
}

}  // namespace tether::model
