#pragma once

#include <cstdint>
#include <span>

// Per-format row kernels behind quantize.h's dispatcher. Each takes whole
// blocks: the caller has checked that src/dst sizes describe the same number
// of blocks (src elements = blocks * block elements, bytes = blocks * block
// bytes). Quantizers follow ggml's reference ("_ref") algorithms, so their
// output equals what llama.cpp writes for the same floats.
namespace tether::kernels {

void quantize_f32(std::span<const float> src, std::span<uint8_t> dst);
void dequantize_f32(std::span<const uint8_t> src, std::span<float> dst);
void quantize_f16(std::span<const float> src, std::span<uint8_t> dst);
void dequantize_f16(std::span<const uint8_t> src, std::span<float> dst);
void quantize_bf16(std::span<const float> src, std::span<uint8_t> dst);
void dequantize_bf16(std::span<const uint8_t> src, std::span<float> dst);

void quantize_q8_0(std::span<const float> src, std::span<uint8_t> dst);
void dequantize_q8_0(std::span<const uint8_t> src, std::span<float> dst);

void quantize_q4_0(std::span<const float> src, std::span<uint8_t> dst);
void dequantize_q4_0(std::span<const uint8_t> src, std::span<float> dst);

void quantize_q4_k(std::span<const float> src, std::span<uint8_t> dst);
void dequantize_q4_k(std::span<const uint8_t> src, std::span<float> dst);

void quantize_q6_k(std::span<const float> src, std::span<uint8_t> dst);
void dequantize_q6_k(std::span<const uint8_t> src, std::span<float> dst);

}  // namespace tether::kernels
