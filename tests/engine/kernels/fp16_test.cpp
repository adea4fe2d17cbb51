#include "engine/kernels/fp16.h"

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

#include <gtest/gtest.h>

namespace tether::kernels {
namespace {

float from_bits(uint32_t bits) { return std::bit_cast<float>(bits); }
uint32_t to_bits(float value) { return std::bit_cast<uint32_t>(value); }

TEST(Fp16Test, EncodesExactValues) {
  EXPECT_EQ(fp32_to_fp16(0.0f), 0x0000);
  EXPECT_EQ(fp32_to_fp16(-0.0f), 0x8000);
  EXPECT_EQ(fp32_to_fp16(1.0f), 0x3c00);
  EXPECT_EQ(fp32_to_fp16(-2.0f), 0xc000);
  EXPECT_EQ(fp32_to_fp16(0.5f), 0x3800);
  EXPECT_EQ(fp32_to_fp16(65504.0f), 0x7bff);    // largest finite half
  EXPECT_EQ(fp32_to_fp16(0x1p-14f), 0x0400);    // smallest normal
  EXPECT_EQ(fp32_to_fp16(0x1p-24f), 0x0001);    // smallest subnormal
  EXPECT_EQ(fp32_to_fp16(1023 * 0x1p-24f), 0x03ff);  // largest subnormal
  EXPECT_EQ(fp32_to_fp16(-0x1p-24f), 0x8001);
}

TEST(Fp16Test, RoundsToNearestEven) {
  EXPECT_EQ(fp32_to_fp16(0.1f), 0x2e66);
  EXPECT_EQ(fp32_to_fp16(3.0f / 127.0f), 0x260c);
  // Halfway between 1 and 1 + 2^-10: the even mantissa (1) wins.
  EXPECT_EQ(fp32_to_fp16(1.0f + 0x1p-11f), 0x3c00);
  // Halfway between 0x3c01 and 0x3c02: the even one wins.
  EXPECT_EQ(fp32_to_fp16(1.0f + 3 * 0x1p-11f), 0x3c02);
  // Just above halfway rounds up.
  EXPECT_EQ(fp32_to_fp16(1.0f + 0x1p-11f + 0x1p-20f), 0x3c01);
  // Subnormal ties: 2^-25 is half the smallest subnormal -> 0; 1.5 * 2^-24
  // is halfway between codes 1 and 2 -> 2.
  EXPECT_EQ(fp32_to_fp16(0x1p-25f), 0x0000);
  EXPECT_EQ(fp32_to_fp16(-0x1p-25f), 0x8000);
  EXPECT_EQ(fp32_to_fp16(1.5f * 0x1p-25f), 0x0001);
  EXPECT_EQ(fp32_to_fp16(1.5f * 0x1p-24f), 0x0002);
  EXPECT_EQ(fp32_to_fp16(0x1p-30f), 0x0000);
  // Rounding up from the largest subnormal reaches the smallest normal.
  EXPECT_EQ(fp32_to_fp16(1023.5f * 0x1p-24f), 0x0400);
}

TEST(Fp16Test, OverflowAndSpecials) {
  EXPECT_EQ(fp32_to_fp16(65519.0f), 0x7bff);
  EXPECT_EQ(fp32_to_fp16(65520.0f), 0x7c00);  // tie between 65504 and 2^16 -> inf
  EXPECT_EQ(fp32_to_fp16(1e6f), 0x7c00);
  EXPECT_EQ(fp32_to_fp16(-1e6f), 0xfc00);
  EXPECT_EQ(fp32_to_fp16(std::numeric_limits<float>::infinity()), 0x7c00);
  EXPECT_EQ(fp32_to_fp16(-std::numeric_limits<float>::infinity()), 0xfc00);
  EXPECT_EQ(fp32_to_fp16(std::numeric_limits<float>::max()), 0x7c00);
  EXPECT_EQ(fp32_to_fp16(std::numeric_limits<float>::quiet_NaN()), 0x7e00);
  EXPECT_EQ(fp32_to_fp16(from_bits(0xff800001u)), 0xfe00);  // signalling NaN stays NaN
}

TEST(Fp16Test, DecodesExactValues) {
  EXPECT_EQ(fp16_to_fp32(0x3c00), 1.0f);
  EXPECT_EQ(fp16_to_fp32(0xc000), -2.0f);
  EXPECT_EQ(fp16_to_fp32(0x7bff), 65504.0f);
  EXPECT_EQ(fp16_to_fp32(0x0400), 0x1p-14f);
  EXPECT_EQ(fp16_to_fp32(0x0001), 0x1p-24f);
  EXPECT_EQ(fp16_to_fp32(0x03ff), 1023 * 0x1p-24f);
  EXPECT_EQ(fp16_to_fp32(0x8001), -0x1p-24f);
  EXPECT_EQ(to_bits(fp16_to_fp32(0x8000)), 0x80000000u);
  EXPECT_EQ(to_bits(fp16_to_fp32(0x0000)), 0x00000000u);
  EXPECT_EQ(fp16_to_fp32(0x7c00), std::numeric_limits<float>::infinity());
  EXPECT_EQ(fp16_to_fp32(0xfc00), -std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(fp16_to_fp32(0x7e00)));
  EXPECT_TRUE(std::isnan(fp16_to_fp32(0x7c01)));
}

TEST(Fp16Test, EveryHalfRoundTripsThroughFloat) {
  for (uint32_t half = 0; half <= 0xffff; ++half) {
    const float value = fp16_to_fp32(static_cast<uint16_t>(half));
    if (std::isnan(value)) {
      EXPECT_EQ(fp32_to_fp16(value) & 0x7c00, 0x7c00) << half;
      EXPECT_NE(fp32_to_fp16(value) & 0x03ff, 0) << half;
      continue;
    }
    ASSERT_EQ(fp32_to_fp16(value), half) << std::hex << half;
  }
}

TEST(Fp16Test, MidpointsBetweenNeighboursRoundToEven) {
  // For each pair of adjacent positive finite halves, the exact midpoint
  // (representable in fp32) must go to the one with the even code.
  for (uint32_t half = 0; half < 0x7bff; ++half) {
    const double lo = fp16_to_fp32(static_cast<uint16_t>(half));
    const double hi = fp16_to_fp32(static_cast<uint16_t>(half + 1));
    const auto mid = static_cast<float>((lo + hi) / 2);
    const uint32_t even = (half % 2 == 0) ? half : half + 1;
    ASSERT_EQ(fp32_to_fp16(mid), even) << std::hex << half;
    ASSERT_EQ(fp32_to_fp16(-mid), even | 0x8000) << std::hex << half;
  }
}

TEST(Bf16Test, EncodesAndDecodes) {
  EXPECT_EQ(fp32_to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(fp32_to_bf16(-2.0f), 0xc000);
  EXPECT_EQ(fp32_to_bf16(0.0f), 0x0000);
  EXPECT_EQ(fp32_to_bf16(-0.0f), 0x8000);
  EXPECT_EQ(bf16_to_fp32(0x4049), 3.140625f);
  EXPECT_EQ(fp32_to_bf16(3.14159265f), 0x4049);
  EXPECT_EQ(bf16_to_fp32(0x0001), from_bits(0x00010000u));  // subnormals are kept
  EXPECT_EQ(fp32_to_bf16(from_bits(0x00010000u)), 0x0001);
}

TEST(Bf16Test, RoundsToNearestEven) {
  EXPECT_EQ(fp32_to_bf16(from_bits(0x3f808000u)), 0x3f80);  // tie, even is 0x3f80
  EXPECT_EQ(fp32_to_bf16(from_bits(0x3f818000u)), 0x3f82);  // tie, even is 0x3f82
  EXPECT_EQ(fp32_to_bf16(from_bits(0x3f808001u)), 0x3f81);  // above the tie
  EXPECT_EQ(fp32_to_bf16(from_bits(0x3f807fffu)), 0x3f80);  // below the tie
  EXPECT_EQ(fp32_to_bf16(from_bits(0xbf818000u)), 0xbf82);
}

TEST(Bf16Test, OverflowAndSpecials) {
  EXPECT_EQ(fp32_to_bf16(std::numeric_limits<float>::infinity()), 0x7f80);
  EXPECT_EQ(fp32_to_bf16(-std::numeric_limits<float>::infinity()), 0xff80);
  EXPECT_EQ(fp32_to_bf16(std::numeric_limits<float>::max()), 0x7f80);  // rounds up to inf
  // A NaN whose payload lives only in the low 16 bits must not become inf.
  const uint16_t nan_bits = fp32_to_bf16(from_bits(0x7f800001u));
  EXPECT_TRUE(std::isnan(bf16_to_fp32(nan_bits)));
  EXPECT_EQ(nan_bits, 0x7fc0);
  EXPECT_TRUE(std::isnan(bf16_to_fp32(fp32_to_bf16(-std::numeric_limits<float>::quiet_NaN()))));
  EXPECT_EQ(bf16_to_fp32(0x7f80), std::numeric_limits<float>::infinity());
}

TEST(Bf16Test, EveryBf16RoundTripsThroughFloat) {
  for (uint32_t bf16 = 0; bf16 <= 0xffff; ++bf16) {
    const float value = bf16_to_fp32(static_cast<uint16_t>(bf16));
    if (std::isnan(value)) continue;
    ASSERT_EQ(fp32_to_bf16(value), bf16) << std::hex << bf16;
  }
}

}  // namespace
}  // namespace tether::kernels
