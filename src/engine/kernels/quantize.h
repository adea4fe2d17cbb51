#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "engine/tensor_type.h"

// Row-level conversion between fp32 and the GGUF storage types tether can
// write: F32, F16, BF16, Q8_0, Q4_0, Q4_K and Q6_K. Bytes are exactly ggml's
// block layouts, and quantizers reproduce ggml's reference algorithms, so a
// row we write equals the row llama.cpp's quantizer writes for the same input.
// The functions keep no state, so threads may convert different rows at once.
namespace tether::kernels {

// True for the seven types above.
bool supports_quantization(TensorType type);

// Bytes a row of n_elements takes. Throws Error(kUnsupported) for a type
// outside the supported set and Error(kInvalidArgument) if n_elements is
// negative or not a multiple of the type's block size.
size_t row_bytes(TensorType type, int64_t n_elements);

// Encodes src into dst, whose size must be exactly row_bytes(type, src.size()).
// Throws Error(kUnsupported) for other types, Error(kInvalidArgument) for sizes.
void quantize_row(TensorType type, std::span<const float> src, std::span<uint8_t> dst);

// Decodes src, which must be exactly row_bytes(type, dst.size()) bytes, into
// dst. Every byte pattern decodes (to possibly inf/NaN floats); none throws.
void dequantize_row(TensorType type, std::span<const uint8_t> src, std::span<float> dst);

}  // namespace tether::kernels
