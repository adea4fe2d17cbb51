#include <cstdint>
#include <vector>

#include <gtest/gtest.h>

#include "engine/kernels/quant_test_inputs.h"
#include "engine/kernels/quantize.h"

namespace tether::kernels {
namespace {

using testing::bell_values;
using testing::fnv1a64;

std::vector<uint8_t> quantize_q8_0(const std::vector<float>& src) {
  std::vector<uint8_t> bytes(row_bytes(TensorType::kQ8_0, static_cast<int64_t>(src.size())));
  quantize_row(TensorType::kQ8_0, src, bytes);
  return bytes;
}

TEST(QuantQ8_0Test, DequantizesHandBuiltBlock) {
  // d = 0.5 (fp16 0x3800, little-endian), then 32 signed quants -128..120.
  std::vector<uint8_t> block = {0x00, 0x38};
  for (int j = 0; j < 32; ++j) block.push_back(static_cast<uint8_t>(j * 8 - 128));
  std::vector<float> out(32);
  dequantize_row(TensorType::kQ8_0, block, out);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(out[j], (j * 8 - 128) * 0.5f) << j;
}

TEST(QuantQ8_0Test, QuantizesRampWithUnitScale) {
  // Largest magnitude 127 gives d = 1, so each quant is the value itself.
  std::vector<float> ramp(32);
  for (int j = 0; j < 32; ++j) ramp[j] = static_cast<float>(127 - 8 * j);
  std::vector<uint8_t> expected = {0x00, 0x3c};
  for (int j = 0; j < 32; ++j) expected.push_back(static_cast<uint8_t>(127 - 8 * j));
  EXPECT_EQ(quantize_q8_0(ramp), expected);

  // Halving every value halves d (0x3800) and leaves the quants alone.
  for (float& value : ramp) value *= 0.5f;
  expected[1] = 0x38;
  EXPECT_EQ(quantize_q8_0(ramp), expected);
}

TEST(QuantQ8_0Test, QuantizesConstantBlock) {
  // d = 3/127 -> fp16 0x260c; every quant is round(3 / d) = 127.
  std::vector<uint8_t> expected = {0x0c, 0x26};
  expected.insert(expected.end(), 32, 0x7f);
  EXPECT_EQ(quantize_q8_0(std::vector<float>(32, 3.0f)), expected);

  // -3 mirrors it: -127 is 0x81.
  expected.assign({0x0c, 0x26});
  expected.insert(expected.end(), 32, 0x81);
  EXPECT_EQ(quantize_q8_0(std::vector<float>(32, -3.0f)), expected);
}

TEST(QuantQ8_0Test, RoundsHalvesAwayFromZero) {
  // d = 1; ggml rounds with roundf, so 2.5 -> 3 and -2.5 -> -3 (not to even).
  std::vector<float> src(32, 0.0f);
  src[0] = 127.0f;
  src[1] = 2.5f;
  src[2] = -2.5f;
  src[3] = 0.49f;
  const std::vector<uint8_t> bytes = quantize_q8_0(src);
  EXPECT_EQ(bytes[2], 127);
  EXPECT_EQ(static_cast<int8_t>(bytes[3]), 3);
  EXPECT_EQ(static_cast<int8_t>(bytes[4]), -3);
  EXPECT_EQ(bytes[5], 0);
}

TEST(QuantQ8_0Test, AllZeroBlockIsAllZeroBytes) {
  EXPECT_EQ(quantize_q8_0(std::vector<float>(64, 0.0f)), std::vector<uint8_t>(68, 0));
}

TEST(QuantQ8_0Test, MatchesGgmlOnPinnedRow) {
  // Hash of the bytes ggml's quantize_row_q8_0_ref writes for this row.
  EXPECT_EQ(fnv1a64(quantize_q8_0(bell_values(3, 1024, 1.0f))), 0x4d316474d91b1fc1ull);
}

}  // namespace
}  // namespace tether::kernels
