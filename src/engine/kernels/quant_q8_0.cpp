#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstring>

#include "engine/kernels/fp16.h"
#include "engine/kernels/quant_blocks.h"
#include "engine/kernels/quant_formats.h"

namespace tether::kernels {
namespace {

// roundf, then the float->int8 store ggml does; NaN (from inf weights times a
// zero inverse scale) lands on 0 as it does with x86's conversion.
int8_t round_to_int8(float value) {
  if (std::isnan(value)) return 0;
  return static_cast<int8_t>(std::clamp(std::round(value), -128.0f, 127.0f));
}

}  // namespace

void quantize_q8_0(std::span<const float> src, std::span<uint8_t> dst) {
  const size_t n_blocks = src.size() / kQk8_0;
  assert(src.size() == n_blocks * kQk8_0 && dst.size() == n_blocks * sizeof(BlockQ8_0));
  for (size_t block_idx = 0; block_idx < n_blocks; ++block_idx) {
    const float* x = src.data() + block_idx * kQk8_0;
    float amax = 0.0f;
    for (int j = 0; j < kQk8_0; ++j) amax = std::max(amax, std::fabs(x[j]));

    // The scale maps the largest magnitude to 127; the quants are computed
    // from the fp32 scale, not its fp16 rounding, as ggml does.
    const float d = amax / 127.0f;
    const float inv_d = d != 0.0f ? 1.0f / d : 0.0f;
    BlockQ8_0 block;
    block.d = fp32_to_fp16(d);
    for (int j = 0; j < kQk8_0; ++j) block.qs[j] = round_to_int8(x[j] * inv_d);
    std::memcpy(dst.data() + block_idx * sizeof(BlockQ8_0), &block, sizeof(block));
  }
}

void dequantize_q8_0(std::span<const uint8_t> src, std::span<float> dst) {
  const size_t n_blocks = dst.size() / kQk8_0;
  assert(dst.size() == n_blocks * kQk8_0 && src.size() == n_blocks * sizeof(BlockQ8_0));
  for (size_t block_idx = 0; block_idx < n_blocks; ++block_idx) {
    BlockQ8_0 block;
    std::memcpy(&block, src.data() + block_idx * sizeof(BlockQ8_0), sizeof(block));
    const float d = fp16_to_fp32(block.d);
    float* y = dst.data() + block_idx * kQk8_0;
    for (int j = 0; j < kQk8_0; ++j) y[j] = static_cast<float>(block.qs[j]) * d;
  }
}

}  // namespace tether::kernels
