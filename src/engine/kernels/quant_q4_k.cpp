#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstring>

#include "engine/kernels/fp16.h"
#include "engine/kernels/lane_vector.h"
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
// offset is never positive) for each of the block's 8 sub-blocks, minimising
// the weighted squared error over a small grid of candidate scales, each
// refined by weighted least squares. This is ggml's make_qkx2_quants; each
// sub-block's arithmetic is kept in the same order so the floats, and thus the
// chosen quants, match bit for bit.
//
// The sub-blocks are independent, so kLanes of them at a time each get one
// lane of a FloatLanes and run in lockstep: the long chains of dependent float
// additions then overlap, and no lane's sums are reordered. Fits sub-blocks
// first .. first + kLanes - 1.
static_assert(kSubBlocks % kLanes == 0);

void fit_sub_blocks(const float* x, const float* weights, int first, uint8_t* quants,
                    ScaleMin* fits) {
  x += first * kSubBlock;
  weights += first * kSubBlock;
  quants += first * kSubBlock;
  fits += first;
  FloatLanes xs[kSubBlock];  // xs[i][lane] is element i of sub-block first + lane
  FloatLanes ws[kSubBlock];
  for (int i = 0; i < kSubBlock; ++i) {
    for (int lane = 0; lane < kLanes; ++lane) {
      xs[i][lane] = x[lane * kSubBlock + i];
      ws[i][lane] = weights[lane * kSubBlock + i];
    }
  }

  FloatLanes lo = xs[0];
  FloatLanes hi = xs[0];
  FloatLanes sum_w = ws[0];
  FloatLanes sum_x = sum_w * xs[0];
  for (int i = 1; i < kSubBlock; ++i) {
    lo = select(xs[i] < lo, xs[i], lo);
    hi = select(xs[i] > hi, xs[i], hi);
    sum_w += ws[i];
    sum_x += ws[i] * xs[i];
  }
  lo = select(lo > 0.0f, splat(0.0f), lo);
  // A constant sub-block (after clamping the min to 0) has no scale to fit.
  const IntLanes flat = hi == lo;

  FloatLanes inv_scale = static_cast<float>(kMaxQuant) / (hi - lo);
  FloatLanes scale = 1.0f / inv_scale;
  FloatLanes best_error = splat(0.0f);
  FloatLanes best[kSubBlock];
  for (int i = 0; i < kSubBlock; ++i) {
    best[i] = to_float(clamp_lanes(round_lanes(inv_scale * (xs[i] - lo)), 0, kMaxQuant));
    const FloatLanes diff = scale * best[i] + lo - xs[i];
    best_error += ws[i] * (diff * diff);
  }

  FloatLanes candidate[kSubBlock];
  for (int step = 0; step <= kSteps; ++step) {
    const float numerator = kStepFirst + kStepSize * step + kMaxQuant;
    inv_scale = numerator / (hi - lo);
    FloatLanes sum_l = splat(0.0f);
    FloatLanes sum_l2 = splat(0.0f);
    FloatLanes sum_xl = splat(0.0f);
    for (int i = 0; i < kSubBlock; ++i) {
      const FloatLanes q =
          to_float(clamp_lanes(round_lanes(inv_scale * (xs[i] - lo)), 0, kMaxQuant));
      candidate[i] = q;
      sum_l += ws[i] * q;
      sum_l2 += ws[i] * q * q;
      sum_xl += ws[i] * q * xs[i];
    }
    const FloatLanes det = sum_w * sum_l2 - sum_l * sum_l;
    FloatLanes this_scale = (sum_w * sum_xl - sum_x * sum_l) / det;
    FloatLanes this_min = (sum_l2 * sum_x - sum_l * sum_xl) / det;
    const IntLanes min_positive = this_min > 0.0f;
    this_min = select(min_positive, splat(0.0f), this_min);
    this_scale = select(min_positive, sum_xl / sum_l2, this_scale);

    FloatLanes error = splat(0.0f);
    for (int i = 0; i < kSubBlock; ++i) {
      const FloatLanes diff = this_scale * candidate[i] + this_min - xs[i];
      error += ws[i] * (diff * diff);
    }
    const IntLanes accept = ~flat & (det > 0.0f) & (error < best_error);
    for (int i = 0; i < kSubBlock; ++i) best[i] = select(accept, candidate[i], best[i]);
    best_error = select(accept, error, best_error);
    scale = select(accept, this_scale, scale);
    lo = select(accept, this_min, lo);
  }

  for (int lane = 0; lane < kLanes; ++lane) {
    uint8_t* q = quants + lane * kSubBlock;
    const bool lane_flat = flat[lane] != 0;
    for (int i = 0; i < kSubBlock; ++i) {
      q[i] = lane_flat ? uint8_t{0} : static_cast<uint8_t>(best[i][lane]);
    }
    fits[lane] = {lane_flat ? 0.0f : scale[lane], -lo[lane]};
  }
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
  // Weight each element by its sub-block's RMS plus its own magnitude, so
  // large weights are fit more closely.
  float weights[kQkK];
  for (int sub = 0; sub < kSubBlocks; ++sub) {
    const float* xs = x + sub * kSubBlock;
    float sum_x2 = 0;
    for (int i = 0; i < kSubBlock; ++i) sum_x2 += xs[i] * xs[i];
    const float rms = std::sqrt(sum_x2 / kSubBlock);
    for (int i = 0; i < kSubBlock; ++i) weights[sub * kSubBlock + i] = rms + std::fabs(xs[i]);
  }
  for (int first = 0; first < kSubBlocks; first += kLanes) {
    fit_sub_blocks(x, weights, first, quants, fits);
  }

  float max_scale = 0;  // scales are non-negative once the min is removed
  float max_min = 0;
  for (int sub = 0; sub < kSubBlocks; ++sub) {
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
