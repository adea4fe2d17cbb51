#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>

// In-memory images of ggml's quantized blocks, field for field. GGUF stores
// them little-endian and unpadded; the static_asserts pin that these structs
// have exactly the on-disk sizes and offsets. Code reads and writes blocks by
// memcpy to or from a byte buffer, so rows need no particular alignment.
namespace tether::kernels {

static_assert(std::endian::native == std::endian::little,
              "GGUF blocks are little-endian; a big-endian host needs byte swaps");

inline constexpr int kQk8_0 = 32;   // elements per Q8_0 block
inline constexpr int kQk4_0 = 32;   // elements per Q4_0 block
inline constexpr int kQkK = 256;    // elements per k-quant super-block
inline constexpr int kQ4KScaleBytes = 12;

// 32 values q[j] * d.
struct BlockQ8_0 {
  uint16_t d;  // fp16 bits
  int8_t qs[kQk8_0];
};
static_assert(sizeof(BlockQ8_0) == 34);
static_assert(offsetof(BlockQ8_0, qs) == 2);

// 32 values (nibble - 8) * d; element j is the low nibble of qs[j] and
// element j + 16 the high nibble.
struct BlockQ4_0 {
  uint16_t d;  // fp16 bits
  uint8_t qs[kQk4_0 / 2];
};
static_assert(sizeof(BlockQ4_0) == 18);
static_assert(offsetof(BlockQ4_0, qs) == 2);

// 256 values in 8 sub-blocks of 32: d * sc[s] * nibble - dmin * m[s], with
// 6-bit sc/m packed into `scales` (see unpack_q4_k_scale_min) and nibbles in
// 4 chunks of 32 bytes, each holding sub-block 2c in its low nibbles and
// sub-block 2c + 1 in its high nibbles.
struct BlockQ4_K {
  uint16_t d;     // fp16 bits: scale of the 6-bit sub-block scales
  uint16_t dmin;  // fp16 bits: scale of the 6-bit sub-block mins
  uint8_t scales[kQ4KScaleBytes];
  uint8_t qs[kQkK / 2];
};
static_assert(sizeof(BlockQ4_K) == 144);
static_assert(offsetof(BlockQ4_K, dmin) == 2);
static_assert(offsetof(BlockQ4_K, scales) == 4);
static_assert(offsetof(BlockQ4_K, qs) == 16);

// Sub-block s (0..7) of a Q4_K block has a 6-bit scale and a 6-bit min.
// Bytes 0-3 hold scales 0-3 and bytes 4-7 mins 0-3 in their low 6 bits;
// bytes 8-11 hold the low nibbles of scale 4+i (low half) and min 4+i (high
// half), whose top 2 bits sit in bits 6-7 of bytes i (scale) and 4+i (min).
struct Q4KScaleMin {
  uint8_t scale;
  uint8_t min;
};

inline Q4KScaleMin unpack_q4_k_scale_min(int sub_block, const uint8_t* packed) {
  if (sub_block < 4) {
    return {static_cast<uint8_t>(packed[sub_block] & 0x3f),
            static_cast<uint8_t>(packed[sub_block + 4] & 0x3f)};
  }
  const uint8_t low = packed[sub_block + 4];
  return {static_cast<uint8_t>((low & 0x0f) | ((packed[sub_block - 4] >> 6) << 4)),
          static_cast<uint8_t>((low >> 4) | ((packed[sub_block] >> 6) << 4))};
}

// Inverse of unpack_q4_k_scale_min for all 8 sub-blocks (values must be < 64).
inline void pack_q4_k_scale_mins(const uint8_t (&scales)[8], const uint8_t (&mins)[8],
                                 uint8_t* packed) {
  for (int i = 0; i < 4; ++i) {
    packed[i] = static_cast<uint8_t>(scales[i] | ((scales[i + 4] >> 4) << 6));
    packed[i + 4] = static_cast<uint8_t>(mins[i] | ((mins[i + 4] >> 4) << 6));
    packed[i + 8] = static_cast<uint8_t>((scales[i + 4] & 0x0f) | ((mins[i + 4] & 0x0f) << 4));
  }
}

// 256 values in 16 sub-blocks of 16: d * scales[s] * (q - 32) with 6-bit q
// split into a low nibble (ql) and two high bits (qh); see quant_q6_k.cpp.
struct BlockQ6_K {
  uint8_t ql[kQkK / 2];
  uint8_t qh[kQkK / 4];
  int8_t scales[kQkK / 16];
  uint16_t d;  // fp16 bits
};
static_assert(sizeof(BlockQ6_K) == 210);
static_assert(offsetof(BlockQ6_K, qh) == 128);
static_assert(offsetof(BlockQ6_K, scales) == 192);
static_assert(offsetof(BlockQ6_K, d) == 208);

}  // namespace tether::kernels
