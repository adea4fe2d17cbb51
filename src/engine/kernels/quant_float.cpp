#include <cassert>
#include <cstring>

#include "engine/kernels/fp16.h"
#include "engine/kernels/quant_formats.h"

namespace tether::kernels {

// GGUF stores floats little-endian, which quant_blocks.h asserts is the host
// order, so F32 rows are plain copies.
void quantize_f32(std::span<const float> src, std::span<uint8_t> dst) {
  assert(dst.size() == src.size() * sizeof(float));
  if (!src.empty()) std::memcpy(dst.data(), src.data(), dst.size());
}

void dequantize_f32(std::span<const uint8_t> src, std::span<float> dst) {
  assert(src.size() == dst.size() * sizeof(float));
  if (!dst.empty()) std::memcpy(dst.data(), src.data(), src.size());
}

void quantize_f16(std::span<const float> src, std::span<uint8_t> dst) {
  assert(dst.size() == src.size() * 2);
  for (size_t i = 0; i < src.size(); ++i) {
    const uint16_t half = fp32_to_fp16(src[i]);
    dst[2 * i] = static_cast<uint8_t>(half);
    dst[2 * i + 1] = static_cast<uint8_t>(half >> 8);
  }
}

void dequantize_f16(std::span<const uint8_t> src, std::span<float> dst) {
  assert(src.size() == dst.size() * 2);
  for (size_t i = 0; i < dst.size(); ++i) {
    dst[i] = fp16_to_fp32(static_cast<uint16_t>(src[2 * i] | (src[2 * i + 1] << 8)));
  }
}

void quantize_bf16(std::span<const float> src, std::span<uint8_t> dst) {
  assert(dst.size() == src.size() * 2);
  for (size_t i = 0; i < src.size(); ++i) {
    const uint16_t bf16 = fp32_to_bf16(src[i]);
    dst[2 * i] = static_cast<uint8_t>(bf16);
    dst[2 * i + 1] = static_cast<uint8_t>(bf16 >> 8);
  }
}

void dequantize_bf16(std::span<const uint8_t> src, std::span<float> dst) {
  assert(src.size() == dst.size() * 2);
  for (size_t i = 0; i < dst.size(); ++i) {
    dst[i] = bf16_to_fp32(static_cast<uint16_t>(src[2 * i] | (src[2 * i + 1] << 8)));
  }
}

}  // namespace tether::kernels
