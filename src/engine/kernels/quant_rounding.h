#pragma once

#include <bit>
#include <cstdint>

namespace tether::kernels {

// Rounds to the nearest integer, ties to even, the way ggml's k-quant search
// does: adding 1.5 * 2^23 leaves the integer in the low mantissa bits. Exact
// for |value| < 2^22; larger inputs (only reachable from inf/NaN weights) give
// a deterministic value that callers clamp. Using the same trick as ggml keeps
// our choices identical to the files llama.cpp writes.
inline int round_to_nearest_int(float value) {
  const float shifted = value + 12582912.0f;
  const uint32_t bits = std::bit_cast<uint32_t>(shifted);
  return static_cast<int>(bits & 0x007fffffu) - 0x00400000;
}

}  // namespace tether::kernels
