#include <cstdint>
#include <vector>

#include <gtest/gtest.h>

#include "engine/kernels/quant_test_inputs.h"
#include "engine/kernels/quantize.h"

namespace tether::kernels {
namespace {

using testing::bell_values;
using testing::fnv1a64;

std::vector<uint8_t> quantize_q4_0(const std::vector<float>& src) {
  std::vector<uint8_t> bytes(row_bytes(TensorType::kQ4_0, static_cast<int64_t>(src.size())));
  quantize_row(TensorType::kQ4_0, src, bytes);
  return bytes;
}

TEST(QuantQ4_0Test, DequantizesHandBuiltBlock) {
  // d = 1.0; byte j holds element j in its low nibble and element j + 16 in
  // its high nibble, each stored as value + 8.
  std::vector<uint8_t> block = {0x00, 0x3c};
  for (int j = 0; j < 16; ++j) block.push_back(static_cast<uint8_t>(j | ((15 - j) << 4)));
  std::vector<float> out(32);
  dequantize_row(TensorType::kQ4_0, block, out);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(out[j], static_cast<float>(j - 8)) << j;
    EXPECT_EQ(out[j + 16], static_cast<float>(7 - j)) << j;
  }
  // A scaled block: d = -0.25 (0xb400), nibble 0 -> 2.0, nibble 15 -> -1.75.
  block = {0x00, 0xb4, 0xf0};
  block.insert(block.end(), 15, 0x88);
  dequantize_row(TensorType::kQ4_0, block, out);
  EXPECT_EQ(out[0], 2.0f);
  EXPECT_EQ(out[16], -1.75f);
  EXPECT_EQ(out[1], 0.0f);
}

TEST(QuantQ4_0Test, QuantizesIntegersInRange) {
  // Values in [-8, 7] whose largest magnitude is -8: d = 1 and each nibble is
  // value + 8. Bytes worked out by hand from that rule.
  std::vector<float> src(32);
  for (int j = 0; j < 16; ++j) {
    src[j] = static_cast<float>((j * 5) % 16 - 8);
    src[j + 16] = static_cast<float>(7 - (j * 3) % 16);
  }
  const std::vector<uint8_t> expected = {0x00, 0x3c, 0xf0, 0xc5, 0x9a, 0x6f, 0x34, 0x09,
                                         0xde, 0xa3, 0x78, 0x4d, 0x12, 0xe7, 0xbc, 0x81,
                                         0x56, 0x2b};
  EXPECT_EQ(quantize_q4_0(src), expected);
}

TEST(QuantQ4_0Test, QuantizesConstantBlock) {
  // The extreme value 2 maps to -8: d = 2 / -8 = -0.25 (fp16 0xb400) and
  // every nibble is 0, which dequantizes back to exactly 2.
  std::vector<uint8_t> expected = {0x00, 0xb4};
  expected.insert(expected.end(), 16, 0x00);
  const std::vector<float> src(32, 2.0f);
  const std::vector<uint8_t> bytes = quantize_q4_0(src);
  EXPECT_EQ(bytes, expected);
  std::vector<float> back(32);
  dequantize_row(TensorType::kQ4_0, bytes, back);
  EXPECT_EQ(back, src);
}

TEST(QuantQ4_0Test, CapsTheTopNibbleAt15) {
  // With extreme -8 (d = 1), +8 would be nibble 16: it is capped to 15 (7).
  std::vector<float> src(32, 0.0f);
  src[0] = -8.0f;
  src[1] = 7.9f;
  const std::vector<uint8_t> bytes = quantize_q4_0(src);
  EXPECT_EQ(bytes[2] & 0x0f, 0);
  EXPECT_EQ(bytes[3] & 0x0f, 15);
  EXPECT_EQ(bytes[4], 0x88);
}

TEST(QuantQ4_0Test, MatchesGgmlOnPinnedRow) {
  // Hash of the bytes ggml's quantize_row_q4_0_ref writes for this row.
  EXPECT_EQ(fnv1a64(quantize_q4_0(bell_values(3, 1024, 1.0f))), 0x189447d6d6987a6eull);
}

}  // namespace
}  // namespace tether::kernels
