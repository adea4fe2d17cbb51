#pragma once

#include <bit>
#include <cstdint>

// Scalar conversions between fp32 and the two 16-bit float formats GGUF uses.
// Done with integer arithmetic so the result does not depend on the CPU's
// F16C support or on the compiler's floating-point flags.
namespace tether::kernels {

// IEEE binary16 -> binary32; exact for every input (NaN payloads are kept).
inline float fp16_to_fp32(uint16_t half) {
  const uint32_t sign = static_cast<uint32_t>(half & 0x8000u) << 16;
  const uint32_t exponent = (half >> 10) & 0x1fu;
  const uint32_t mantissa = half & 0x3ffu;
  uint32_t bits;
  if (exponent == 0x1f) {
    bits = sign | 0x7f800000u | (mantissa << 13);
  } else if (exponent != 0) {
    // Rebias the exponent from 15 to 127.
    bits = sign | ((exponent + 112u) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {
    bits = sign;
  } else {
    // Subnormal: mantissa * 2^-24 is exact in fp32.
    const float magnitude = static_cast<float>(mantissa) * 0x1p-24f;
    bits = sign | std::bit_cast<uint32_t>(magnitude);
  }
  return std::bit_cast<float>(bits);
}

// binary32 -> binary16 rounding to nearest, ties to even. Overflow gives inf,
// tiny values become subnormals or signed zero, and any NaN becomes the quiet
// NaN 0x7e00 with its sign, which is what ggml's reference conversion writes.
inline uint16_t fp32_to_fp16(float value) {
  const uint32_t bits = std::bit_cast<uint32_t>(value);
  const uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
  const uint32_t magnitude = bits & 0x7fffffffu;

  if (magnitude > 0x7f800000u) return sign | 0x7e00u;
  // 2^16 and above (inf included) is past half an ulp beyond 65504.
  if (magnitude >= 0x47800000u) return sign | 0x7c00u;

  if (magnitude < 0x38800000u) {
    // Below 2^-14, the smallest normal half. 2^-25 is exactly half of the
    // smallest subnormal and ties to the even value, zero.
    if (magnitude <= 0x33000000u) return sign;
    const uint32_t exponent = magnitude >> 23;
    const uint32_t mantissa = (magnitude & 0x7fffffu) | 0x800000u;
    // Count in units of 2^-24: value = mantissa * 2^(exponent - 150).
    const uint32_t shift = 126u - exponent;
    uint32_t result = mantissa >> shift;
    const uint32_t remainder = mantissa & ((1u << shift) - 1u);
    const uint32_t halfway = 1u << (shift - 1u);
    if (remainder > halfway || (remainder == halfway && (result & 1u))) ++result;
    // A carry into bit 10 yields the smallest normal, which is the right code.
    return sign | static_cast<uint16_t>(result);
  }

  // Normal range: rebias 127 -> 15 and drop 13 mantissa bits.
  const uint32_t rebiased = magnitude - 0x38000000u;
  uint32_t result = rebiased >> 13;
  const uint32_t remainder = rebiased & 0x1fffu;
  if (remainder > 0x1000u || (remainder == 0x1000u && (result & 1u))) ++result;
  // Rounding 65520..65535 up carries into the exponent and gives 0x7c00 (inf).
  return sign | static_cast<uint16_t>(result);
}

// bfloat16 is the top half of a binary32.
inline float bf16_to_fp32(uint16_t bf16) {
  return std::bit_cast<float>(static_cast<uint32_t>(bf16) << 16);
}

// binary32 -> bfloat16 rounding to nearest, ties to even; a NaN stays a NaN
// (made quiet, so dropping low payload bits cannot turn it into inf).
inline uint16_t fp32_to_bf16(float value) {
  const uint32_t bits = std::bit_cast<uint32_t>(value);
  if ((bits & 0x7fffffffu) > 0x7f800000u) {
    return static_cast<uint16_t>((bits >> 16) | 0x0040u);
  }
  const uint32_t rounding = 0x7fffu + ((bits >> 16) & 1u);
  return static_cast<uint16_t>((bits + rounding) >> 16);
}

}  // namespace tether::kernels
