#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstring>

#include "engine/kernels/fp16.h"
#include "engine/kernels/quant_blocks.h"
#include "engine/kernels/quant_formats.h"

namespace tether::kernels {
namespace {

constexpr int kHalf = kQk4_0 / 2;

// ggml truncates value + 8.5 toward zero and caps it at 15; for finite
// weights the sum lies in [0.5, 16.5]. NaN goes to 0 like x86's conversion.
uint8_t to_nibble(float scaled) {
  const float shifted = scaled + 8.5f;
  if (!(shifted >= 0.0f)) return 0;
  return static_cast<uint8_t>(std::min(15.0f, std::trunc(shifted)));
}

}  // namespace

void quantize_q4_0(std::span<const float> src, std::span<uint8_t> dst) {
  const size_t n_blocks = src.size() / kQk4_0;
  assert(src.size() == n_blocks * kQk4_0 && dst.size() == n_blocks * sizeof(BlockQ4_0));
  for (size_t block_idx = 0; block_idx < n_blocks; ++block_idx) {
    const float* x = src.data() + block_idx * kQk4_0;
    // The signed value of largest magnitude (first one on ties) maps to -8,
    // the end of the range that has no positive counterpart.
    float amax = 0.0f;
    float extreme = 0.0f;
    for (int j = 0; j < kQk4_0; ++j) {
      if (std::fabs(x[j]) > amax) {
        amax = std::fabs(x[j]);
        extreme = x[j];
      }
    }
    const float d = extreme / -8.0f;
    const float inv_d = d != 0.0f ? 1.0f / d : 0.0f;

    BlockQ4_0 block;
    block.d = fp32_to_fp16(d);
    for (int j = 0; j < kHalf; ++j) {
      const uint8_t low = to_nibble(x[j] * inv_d);
      const uint8_t high = to_nibble(x[j + kHalf] * inv_d);
      block.qs[j] = static_cast<uint8_t>(low | (high << 4));
    }
    std::memcpy(dst.data() + block_idx * sizeof(BlockQ4_0), &block, sizeof(block));
  }
}

void dequantize_q4_0(std::span<const uint8_t> src, std::span<float> dst) {
  const size_t n_blocks = dst.size() / kQk4_0;
  assert(dst.size() == n_blocks * kQk4_0 && src.size() == n_blocks * sizeof(BlockQ4_0));
  for (size_t block_idx = 0; block_idx < n_blocks; ++block_idx) {
    BlockQ4_0 block;
    std::memcpy(&block, src.data() + block_idx * sizeof(BlockQ4_0), sizeof(block));
    const float d = fp16_to_fp32(block.d);
    float* y = dst.data() + block_idx * kQk4_0;
    for (int j = 0; j < kHalf; ++j) {
      y[j] = static_cast<float>((block.qs[j] & 0x0f) - 8) * d;
      y[j + kHalf] = static_cast<float>((block.qs[j] >> 4) - 8) * d;
    }
  }
}

}  // namespace tether::kernels
