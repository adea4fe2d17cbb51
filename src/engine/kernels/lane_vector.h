#pragma once

#include <bit>
#include <cstdint>

// Four float or int32 lanes as a GCC/Clang vector extension: one SSE2 register
// on baseline x86-64 (wider vectors get split, and their comparisons then fall
// back to scalar code), NEON on arm64. Every lane follows IEEE arithmetic on its
// own, so a lane computes exactly what scalar code would. Quantizers use it to
// run independent sub-blocks side by side.
namespace tether::kernels {

inline constexpr int kLanes = 4;

using FloatLanes = float __attribute__((vector_size(16)));
using IntLanes = int32_t __attribute__((vector_size(16)));

inline FloatLanes splat(float value) { return FloatLanes{} + value; }
inline IntLanes splat_int(int32_t value) { return IntLanes{} + value; }

// Lane-wise mask ? a : b, where mask lanes are all ones or all zeros (the
// result of a vector comparison).
inline FloatLanes select(IntLanes mask, FloatLanes a, FloatLanes b) {
  const IntLanes bits_a = std::bit_cast<IntLanes>(a);
  const IntLanes bits_b = std::bit_cast<IntLanes>(b);
  return std::bit_cast<FloatLanes>((bits_a & mask) | (bits_b & ~mask));
}

inline IntLanes select(IntLanes mask, IntLanes a, IntLanes b) { return (a & mask) | (b & ~mask); }

// round_to_nearest_int (quant_rounding.h) in every lane.
inline IntLanes round_lanes(FloatLanes values) {
  const IntLanes bits = std::bit_cast<IntLanes>(values + 12582912.0f);
  return (bits & 0x007fffff) - 0x00400000;
}

inline IntLanes clamp_lanes(IntLanes values, int32_t lo, int32_t hi) {
  values = select(values < lo, splat_int(lo), values);
  return select(values > hi, splat_int(hi), values);
}

inline FloatLanes to_float(IntLanes values) { return __builtin_convertvector(values, FloatLanes); }

}  // namespace tether::kernels
