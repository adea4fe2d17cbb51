#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstring>

#include "engine/kernels/fp16.h"
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

// Picks a signed scale for 16 values with q in [-32, 31], weighting each
// error by x^2: start from the scale that maps the largest-magnitude value to
// -32, then try 18 nearby inverse scales and keep the least-squares scale of
// whichever rounding correlates best with x. This is ggml's make_qx_quants
// with rmse_type 1; the arithmetic keeps its order so results match exactly.
// Writes q + 32 to quants.
float fit_scale(const float* x, int8_t* quants) {
  float amax = 0;
  float extreme = 0;
  for (int i = 0; i < kSubBlock; ++i) {
    const float ax = std::fabs(x[i]);
    if (ax > amax) {
      amax = ax;
      extreme = x[i];
    }
  }
  if (amax < kGroupMaxEps) {
    std::fill(quants, quants + kSubBlock, int8_t{0});
    return 0.f;
  }

  float inv_scale = -kHalfRange / extreme;
  float sum_lx = 0;
  float sum_l2 = 0;
  for (int i = 0; i < kSubBlock; ++i) {
    const int q = clamp_quant(round_to_nearest_int(inv_scale * x[i]));
    quants[i] = static_cast<int8_t>(q + kHalfRange);
    const float w = x[i] * x[i];
    sum_lx += w * x[i] * q;
    sum_l2 += w * q * q;
  }
  float scale = sum_l2 != 0 ? sum_lx / sum_l2 : 0.0f;
  float best = scale * sum_lx;

  for (int step = -9; step <= 9; ++step) {
    if (step == 0) continue;
    inv_scale = -(kHalfRange + 0.1f * step) / extreme;
    sum_lx = 0;
    sum_l2 = 0;
    for (int i = 0; i < kSubBlock; ++i) {
      const int q = clamp_quant(round_to_nearest_int(inv_scale * x[i]));
      const float w = x[i] * x[i];
      sum_lx += w * x[i] * q;
      sum_l2 += w * q * q;
    }
    // Compares sum_lx^2 / sum_l2 (the error reduction) without dividing.
    if (sum_l2 > 0 && sum_lx * sum_lx > best * sum_l2) {
      for (int i = 0; i < kSubBlock; ++i) {
        quants[i] = static_cast<int8_t>(
            clamp_quant(round_to_nearest_int(inv_scale * x[i])) + kHalfRange);
      }
      scale = sum_lx / sum_l2;
      best = scale * sum_lx;
    }
  }
  return scale;
}

void quantize_block(const float* x, BlockQ6_K& block) {
  int8_t quants[kQkK];
  float scales[kSubBlocks];
  float max_scale = 0;
  float max_abs_scale = 0;
  for (int sub = 0; sub < kSubBlocks; ++sub) {
    scales[sub] = fit_scale(x + sub * kSubBlock, quants + sub * kSubBlock);
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
