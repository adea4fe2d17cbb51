#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstring>

#include "engine/kernels/fp16.h"
#include "engine/kernels/lane_vector.h"
#include "engine/kernels/quant_blocks.h"
#include "engine/kernels/quant_formats.h"
#include "engine/kernels/quant_rounding.h"

// Q6_K layout, per 128-element half h of the 256-element block (ql offset
// 64h, qh offset 32h, scales offset 8h), for i in 0..31:
//   element 128h +      i: low nibble  of ql[i],      qh[i] bits 0-1
//   element 128h + 32 + i: low nibble  of ql[32 + i], qh[i] bits 2-3
//   element 128h + 64 + i: high nibble of ql[i],      qh[i] bits 4-5
//   element 128h + 96 + i: high nibble of ql[32 + i], qh[i] bits 6-7
// and element e uses scales[e / 16]. Value = d * scale * (q - 32).
namespace tether::kernels {
namespace {

constexpr int kSubBlock = 16;
constexpr int kSubBlocks = kQkK / kSubBlock;
constexpr int kHalfRange = 32;     // q - 32 lies in [-32, 31]
constexpr float kGroupMaxEps = 1e-15f;  // below this a group counts as all zero

int clamp_quant(int q) { return std::clamp(q, -kHalfRange, kHalfRange - 1); }

IntLanes quantize_lanes(FloatLanes inv_scale, FloatLanes x) {
  return clamp_lanes(round_lanes(inv_scale * x), -kHalfRange, kHalfRange - 1);
}

// Picks a signed scale for each of kLanes sub-blocks of 16 values with q in
// [-32, 31], weighting each error by x^2: start from the scale that maps the
// largest-magnitude value to -32, then try 18 nearby inverse scales and keep
// the least-squares scale of whichever rounding correlates best with x. This
// is ggml's make_qx_quants with rmse_type 1; each lane keeps its arithmetic
// order so results match exactly, and the lanes (independent sub-blocks) run
// side by side so their dependent additions overlap. Writes q + 32 to quants
// (0 for an all-zero sub-block, as ggml does) for sub-blocks first ..
// first + kLanes - 1.
static_assert(kSubBlocks % kLanes == 0);

void fit_scales(const float* x, int first, int8_t* quants, float* scales) {
  FloatLanes xs[kSubBlock];  // xs[i][lane] is element i of sub-block first + lane
  for (int i = 0; i < kSubBlock; ++i) {
    for (int lane = 0; lane < kLanes; ++lane) xs[i][lane] = x[(first + lane) * kSubBlock + i];
  }

  FloatLanes amax = splat(0.0f);
  FloatLanes extreme = splat(0.0f);
  for (int i = 0; i < kSubBlock; ++i) {
    const FloatLanes ax = select(xs[i] < 0.0f, -xs[i], xs[i]);
    const IntLanes larger = ax > amax;
    amax = select(larger, ax, amax);
    extreme = select(larger, xs[i], extreme);
  }
  const IntLanes all_zero = amax < kGroupMaxEps;

  FloatLanes inv_scale = static_cast<float>(-kHalfRange) / extreme;
  FloatLanes sum_lx = splat(0.0f);
  FloatLanes sum_l2 = splat(0.0f);
  IntLanes best[kSubBlock];
  for (int i = 0; i < kSubBlock; ++i) {
    best[i] = quantize_lanes(inv_scale, xs[i]);
    const FloatLanes q = to_float(best[i]);
    const FloatLanes w = xs[i] * xs[i];
    sum_lx += w * xs[i] * q;
    sum_l2 += w * q * q;
  }
  FloatLanes scale = select(sum_l2 != 0.0f, sum_lx / sum_l2, splat(0.0f));
  FloatLanes best_fit = scale * sum_lx;

  IntLanes candidate[kSubBlock];
  for (int step = -9; step <= 9; ++step) {
    if (step == 0) continue;
    inv_scale = -(kHalfRange + 0.1f * step) / extreme;
    sum_lx = splat(0.0f);
    sum_l2 = splat(0.0f);
    for (int i = 0; i < kSubBlock; ++i) {
      candidate[i] = quantize_lanes(inv_scale, xs[i]);
      const FloatLanes q = to_float(candidate[i]);
      const FloatLanes w = xs[i] * xs[i];
      sum_lx += w * xs[i] * q;
      sum_l2 += w * q * q;
    }
    // Compares sum_lx^2 / sum_l2 (the error reduction) without dividing.
    const IntLanes accept = (sum_l2 > 0.0f) & (sum_lx * sum_lx > best_fit * sum_l2);
    for (int i = 0; i < kSubBlock; ++i) best[i] = select(accept, candidate[i], best[i]);
    scale = select(accept, sum_lx / sum_l2, scale);
    best_fit = select(accept, scale * sum_lx, best_fit);
  }

  for (int lane = 0; lane < kLanes; ++lane) {
    int8_t* q = quants + (first + lane) * kSubBlock;
    const bool zero = all_zero[lane] != 0;
    for (int i = 0; i < kSubBlock; ++i) {
      q[i] = zero ? int8_t{0} : static_cast<int8_t>(best[i][lane] + kHalfRange);
    }
    scales[first + lane] = zero ? 0.0f : scale[lane];
  }
}

void quantize_block(const float* x, BlockQ6_K& block) {
  int8_t quants[kQkK];
  float scales[kSubBlocks];
  float max_scale = 0;
  float max_abs_scale = 0;
  for (int first = 0; first < kSubBlocks; first += kLanes) fit_scales(x, first, quants, scales);
  for (int sub = 0; sub < kSubBlocks; ++sub) {
    const float abs_scale = std::fabs(scales[sub]);
    if (abs_scale > max_abs_scale) {
      max_abs_scale = abs_scale;
      max_scale = scales[sub];
    }
  }

  if (max_abs_scale < kGroupMaxEps) {
    std::memset(&block, 0, sizeof(block));
    return;
  }

  // The sub-block scales become int8 codes of one fp16 base; the scale of
  // largest magnitude maps to -128.
  const float inv_scale = -128.f / max_scale;
  block.d = fp32_to_fp16(1 / inv_scale);
  for (int sub = 0; sub < kSubBlocks; ++sub) {
    const int code = round_to_nearest_int(inv_scale * scales[sub]);
    block.scales[sub] = static_cast<int8_t>(std::clamp(code, -128, 127));
  }

  // Requantize against the stored scales; a zero scale keeps the fit's quants.
  const float d_base = fp16_to_fp32(block.d);
  for (int sub = 0; sub < kSubBlocks; ++sub) {
    const float d = d_base * block.scales[sub];
    if (d == 0.0f) continue;
    for (int i = 0; i < kSubBlock; ++i) {
      const int q = clamp_quant(round_to_nearest_int(x[sub * kSubBlock + i] / d));
      quants[sub * kSubBlock + i] = static_cast<int8_t>(q + kHalfRange);
    }
  }

  for (int half = 0; half < 2; ++half) {
    const int8_t* q = quants + half * 128;
    uint8_t* ql = block.ql + half * 64;
    uint8_t* qh = block.qh + half * 32;
    for (int i = 0; i < 32; ++i) {
      const int q0 = q[i];
      const int q1 = q[i + 32];
      const int q2 = q[i + 64];
      const int q3 = q[i + 96];
      ql[i] = static_cast<uint8_t>((q0 & 0x0f) | ((q2 & 0x0f) << 4));
      ql[i + 32] = static_cast<uint8_t>((q1 & 0x0f) | ((q3 & 0x0f) << 4));
      qh[i] = static_cast<uint8_t>((q0 >> 4) | ((q1 >> 4) << 2) | ((q2 >> 4) << 4) |
                                   ((q3 >> 4) << 6));
    }
  }
}

}  // namespace

void quantize_q6_k(std::span<const float> src, std::span<uint8_t> dst) {
  const size_t n_blocks = src.size() / kQkK;
  assert(src.size() == n_blocks * kQkK && dst.size() == n_blocks * sizeof(BlockQ6_K));
  for (size_t block_idx = 0; block_idx < n_blocks; ++block_idx) {
    BlockQ6_K block;
    quantize_block(src.data() + block_idx * kQkK, block);
    std::memcpy(dst.data() + block_idx * sizeof(BlockQ6_K), &block, sizeof(block));
  }
}

void dequantize_q6_k(std::span<const uint8_t> src, std::span<float> dst) {
  const size_t n_blocks = dst.size() / kQkK;
  assert(dst.size() == n_blocks * kQkK && src.size() == n_blocks * sizeof(BlockQ6_K));
  for (size_t block_idx = 0; block_idx < n_blocks; ++block_idx) {
    BlockQ6_K block;
    std::memcpy(&block, src.data() + block_idx * sizeof(BlockQ6_K), sizeof(block));
    const float d = fp16_to_fp32(block.d);
    for (int half = 0; half < 2; ++half) {
      const uint8_t* ql = block.ql + half * 64;
      const uint8_t* qh = block.qh + half * 32;
      const int8_t* sc = block.scales + half * 8;
      float* y = dst.data() + block_idx * kQkK + half * 128;
      for (int i = 0; i < 32; ++i) {
        const int s = i / 16;
        const int q0 = ((ql[i] & 0x0f) | (((qh[i] >> 0) & 3) << 4)) - kHalfRange;
        const int q1 = ((ql[i + 32] & 0x0f) | (((qh[i] >> 2) & 3) << 4)) - kHalfRange;
        const int q2 = ((ql[i] >> 4) | (((qh[i] >> 4) & 3) << 4)) - kHalfRange;
        const int q3 = ((ql[i + 32] >> 4) | (((qh[i] >> 6) & 3) << 4)) - kHalfRange;
        y[i] = d * sc[s] * q0;
        y[i + 32] = d * sc[s + 2] * q1;
        y[i + 64] = d * sc[s + 4] * q2;
        y[i + 96] = d * sc[s + 6] * q3;
      }
    }
  }
}

}  // namespace tether::kernels
