#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstring>

#include "engine/kernels/fp16.h"
#include "engine/kernels/quant_blocks.h"
#include "engine/kernels/quant_formats.h"
#include "engine/kernels/quant_rounding.h"

namespace tether::kernels {
namespace {

constexpr int kSubBlock = 32;
constexpr int kSubBlocks = kQkK / kSubBlock;
constexpr int kMaxQuant = 15;

// Search parameters ggml's Q4_K reference quantizer uses: try inverse scales
// (kMaxQuant + kStepFirst + kStepSize * i) / range for i in 0..kSteps.
constexpr float kStepFirst = -1.0f;
constexpr float kStepSize = 0.1f;
constexpr int kSteps = 20;

struct ScaleMin {
  float scale;
  float min;  // stored negated: the value is scale * q - min
};

// Fits x[i] ~= scale * q[i] - min with q in [0, 15] and min >= 0 (the
// offset is never positive), minimising the weighted squared error over a
// small grid of candidate scales, each refined by weighted least squares.
// This is ggml's make_qkx2_quants; the arithmetic is kept in the same order
// so the floats, and thus the chosen quants, match bit for bit.
ScaleMin fit_scale_min(const float* x, const float* weights, uint8_t* quants) {
  float lo = x[0];
  float hi = x[0];
  float sum_w = weights[0];
  float sum_x = sum_w * x[0];
  for (int i = 1; i < kSubBlock; ++i) {
    if (x[i] < lo) lo = x[i];
    if (x[i] > hi) hi = x[i];
    const float w = weights[i];
    sum_w += w;
    sum_x += w * x[i];
  }
  if (lo > 0) lo = 0;
  if (hi == lo) {
    std::fill(quants, quants + kSubBlock, uint8_t{0});
    return {0.0f, -lo};
  }

  float inv_scale = kMaxQuant / (hi - lo);
  float scale = 1 / inv_scale;
  float best_error = 0;
  for (int i = 0; i < kSubBlock; ++i) {
    const int q = round_to_nearest_int(inv_scale * (x[i] - lo));
    quants[i] = static_cast<uint8_t>(std::clamp(q, 0, kMaxQuant));
    const float diff = scale * quants[i] + lo - x[i];
    best_error += weights[i] * (diff * diff);
  }

  uint8_t candidate[kSubBlock];
  for (int step = 0; step <= kSteps; ++step) {
    inv_scale = (kStepFirst + kStepSize * step + kMaxQuant) / (hi - lo);
    float sum_l = 0;
    float sum_l2 = 0;
    float sum_xl = 0;
    for (int i = 0; i < kSubBlock; ++i) {
      const int q = std::clamp(round_to_nearest_int(inv_scale * (x[i] - lo)), 0, kMaxQuant);
      candidate[i] = static_cast<uint8_t>(q);
      const float w = weights[i];
      sum_l += w * q;
      sum_l2 += w * q * q;
      sum_xl += w * q * x[i];
    }
    const float det = sum_w * sum_l2 - sum_l * sum_l;
    if (!(det > 0)) continue;
    float this_scale = (sum_w * sum_xl - sum_x * sum_l) / det;
    float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / det;
    if (this_min > 0) {
      this_min = 0;
      this_scale = sum_xl / sum_l2;
    }
    float error = 0;
    for (int i = 0; i < kSubBlock; ++i) {
      const float diff = this_scale * candidate[i] + this_min - x[i];
      error += weights[i] * (diff * diff);
    }
    if (error < best_error) {
      std::copy(candidate, candidate + kSubBlock, quants);
      best_error = error;
      scale = this_scale;
      lo = this_min;
    }
  }
  return {scale, -lo};
}

// Quantizes a sub-block's 6-bit scale or min code the way ggml does: round,
// keep the low byte, then cap at 63.
uint8_t to_6bit(float value) {
  const auto code = static_cast<uint8_t>(round_to_nearest_int(value));
  return std::min<uint8_t>(63, code);
}

void quantize_block(const float* x, BlockQ4_K& block) {
  uint8_t quants[kQkK];
  ScaleMin fits[kSubBlocks];
  float max_scale = 0;  // scales are non-negative once the min is removed
  float max_min = 0;
  for (int sub = 0; sub < kSubBlocks; ++sub) {
    const float* xs = x + sub * kSubBlock;
    // Weight each element by the sub-block's RMS plus its own magnitude, so
    // large weights are fit more closely.
    float sum_x2 = 0;
    for (int i = 0; i < kSubBlock; ++i) sum_x2 += xs[i] * xs[i];
    const float rms = std::sqrt(sum_x2 / kSubBlock);
    float weights[kSubBlock];
    for (int i = 0; i < kSubBlock; ++i) weights[i] = rms + std::fabs(xs[i]);
    fits[sub] = fit_scale_min(xs, weights, quants + sub * kSubBlock);
    if (fits[sub].scale > max_scale) max_scale = fits[sub].scale;
    if (fits[sub].min > max_min) max_min = fits[sub].min;
  }

  const float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
  const float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
  uint8_t scale_codes[kSubBlocks];
  uint8_t min_codes[kSubBlocks];
  for (int sub = 0; sub < kSubBlocks; ++sub) {
    scale_codes[sub] = to_6bit(inv_scale * fits[sub].scale);
    min_codes[sub] = to_6bit(inv_min * fits[sub].min);
  }
  pack_q4_k_scale_mins(scale_codes, min_codes, block.scales);
  block.d = fp32_to_fp16(max_scale / 63.f);
  block.dmin = fp32_to_fp16(max_min / 63.f);

  // Requantize against the scales as stored (6-bit codes times fp16 bases).
  // A sub-block whose effective scale is zero keeps the search's quants.
  const float d_base = fp16_to_fp32(block.d);
  const float min_base = fp16_to_fp32(block.dmin);
  for (int sub = 0; sub < kSubBlocks; ++sub) {
    const Q4KScaleMin codes = unpack_q4_k_scale_min(sub, block.scales);
    const float d = d_base * codes.scale;
    if (d == 0.0f) continue;
    const float dm = min_base * codes.min;
    for (int i = 0; i < kSubBlock; ++i) {
      const int q = round_to_nearest_int((x[sub * kSubBlock + i] + dm) / d);
      quants[sub * kSubBlock + i] = static_cast<uint8_t>(std::clamp(q, 0, kMaxQuant));
    }
  }

  // Each 32-byte chunk holds two consecutive sub-blocks: low then high nibbles.
  for (int chunk = 0; chunk < kQkK / 64; ++chunk) {
    const uint8_t* q = quants + chunk * 64;
    for (int i = 0; i < 32; ++i) {
      block.qs[chunk * 32 + i] = static_cast<uint8_t>(q[i] | (q[i + 32] << 4));
    }
  }
}

}  // namespace

void quantize_q4_k(std::span<const float> src, std::span<uint8_t> dst) {
  const size_t n_blocks = src.size() / kQkK;
  assert(src.size() == n_blocks * kQkK && dst.size() == n_blocks * sizeof(BlockQ4_K));
  for (size_t block_idx = 0; block_idx < n_blocks; ++block_idx) {
    BlockQ4_K block;
    quantize_block(src.data() + block_idx * kQkK, block);
    std::memcpy(dst.data() + block_idx * sizeof(BlockQ4_K), &block, sizeof(block));
  }
}

void dequantize_q4_k(std::span<const uint8_t> src, std::span<float> dst) {
  const size_t n_blocks = dst.size() / kQkK;
  assert(dst.size() == n_blocks * kQkK && src.size() == n_blocks * sizeof(BlockQ4_K));
  for (size_t block_idx = 0; block_idx < n_blocks; ++block_idx) {
    BlockQ4_K block;
    std::memcpy(&block, src.data() + block_idx * sizeof(BlockQ4_K), sizeof(block));
    const float d_base = fp16_to_fp32(block.d);
    const float min_base = fp16_to_fp32(block.dmin);
    float* y = dst.data() + block_idx * kQkK;
    for (int chunk = 0; chunk < kQkK / 64; ++chunk) {
      const Q4KScaleMin low_codes = unpack_q4_k_scale_min(2 * chunk, block.scales);
      const Q4KScaleMin high_codes = unpack_q4_k_scale_min(2 * chunk + 1, block.scales);
      const float d_low = d_base * low_codes.scale;
      const float m_low = min_base * low_codes.min;
      const float d_high = d_base * high_codes.scale;
      const float m_high = min_base * high_codes.min;
      const uint8_t* q = block.qs + chunk * 32;
      for (int i = 0; i < 32; ++i) y[chunk * 64 + i] = d_low * (q[i] & 0x0f) - m_low;
      for (int i = 0; i < 32; ++i) y[chunk * 64 + 32 + i] = d_high * (q[i] >> 4) - m_high;
    }
  }
}

}  // namespace tether::kernels
