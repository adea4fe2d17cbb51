#include <cstdint>
#include <vector>

#include <gtest/gtest.h>

#include "engine/kernels/quant_blocks.h"
#include "engine/kernels/quant_test_inputs.h"
#include "engine/kernels/quantize.h"

namespace tether::kernels {
namespace {

using testing::bell_values;
using testing::corner_case_block;
using testing::fnv1a64;
using testing::to_hex;

// Chosen 6-bit sub-block scales and mins; several need the high bits that
// Q4_K keeps apart from the low ones.
constexpr uint8_t kScales[8] = {1, 2, 3, 63, 17, 33, 48, 5};
constexpr uint8_t kMins[8] = {0, 1, 62, 4, 20, 63, 7, 40};
// The same values packed by hand following ggml's layout.
const std::vector<uint8_t> kPackedScaleMins = {0x41, 0x82, 0xc3, 0x3f, 0x40, 0xc1,
                                               0x3e, 0x84, 0x41, 0xf1, 0x70, 0x85};

std::vector<uint8_t> hand_built_block() {
  std::vector<uint8_t> block = {0x00, 0x3c, 0x00, 0x38};  // d = 1.0, dmin = 0.5
  block.insert(block.end(), kPackedScaleMins.begin(), kPackedScaleMins.end());
  for (int k = 0; k < 128; ++k) block.push_back(static_cast<uint8_t>(k));
  return block;
}

std::vector<uint8_t> quantize_q4_k(const std::vector<float>& src) {
  std::vector<uint8_t> bytes(row_bytes(TensorType::kQ4_K, static_cast<int64_t>(src.size())));
  quantize_row(TensorType::kQ4_K, src, bytes);
  return bytes;
}

TEST(QuantQ4KTest, PacksAndUnpacksScaleMins) {
  uint8_t packed[12];
  pack_q4_k_scale_mins(kScales, kMins, packed);
  EXPECT_EQ(std::vector<uint8_t>(packed, packed + 12), kPackedScaleMins);
  for (int sub = 0; sub < 8; ++sub) {
    const Q4KScaleMin codes = unpack_q4_k_scale_min(sub, kPackedScaleMins.data());
    EXPECT_EQ(codes.scale, kScales[sub]) << sub;
    EXPECT_EQ(codes.min, kMins[sub]) << sub;
  }
}

TEST(QuantQ4KTest, DequantizesHandBuiltBlock) {
  // qs[k] = k: chunk c (64 elements) reads bytes 32c..32c+31; its first 32
  // elements (sub-block 2c) take the low nibbles, the next 32 (sub-block
  // 2c + 1) the high nibbles. Value = d * scale * q - dmin * min.
  std::vector<float> out(256);
  dequantize_row(TensorType::kQ4_K, hand_built_block(), out);
  for (int e = 0; e < 256; ++e) {
    const int chunk = e / 64;
    const int r = e % 64;
    const int byte = chunk * 32 + r % 32;
    const int q = r < 32 ? (byte & 0x0f) : (byte >> 4);
    const int sub = e / 32;
    EXPECT_EQ(out[e], 1.0f * kScales[sub] * q - 0.5f * kMins[sub]) << e;
  }
  // A few worked by hand.
  EXPECT_EQ(out[5], 5.0f);      // sub 0: 1 * 5 - 0.5 * 0
  EXPECT_EQ(out[40], -0.5f);    // sub 1: high nibble of qs[8] = 0; -0.5 * 1
  EXPECT_EQ(out[100], 124.0f);  // sub 3: high nibble of qs[36] = 2; 63 * 2 - 0.5 * 4
  EXPECT_EQ(out[200], 380.5f);  // sub 6: low nibble of qs[104] = 8; 48 * 8 - 0.5 * 7
  EXPECT_EQ(out[255], 15.0f);   // sub 7: high nibble of qs[127] = 7; 5 * 7 - 0.5 * 40
}

TEST(QuantQ4KTest, AllZeroBlockIsAllZeroBytes) {
  const std::vector<uint8_t> bytes = quantize_q4_k(std::vector<float>(256, 0.0f));
  EXPECT_EQ(bytes, std::vector<uint8_t>(144, 0));
}

TEST(QuantQ4KTest, ConstantBlockDecodesClosely) {
  // Each sub-block is constant 1.0: the min clamps to 0 and the scale fit
  // lands 1.0 on a quant up to the fp16/6-bit rounding of the scale.
  const std::vector<uint8_t> bytes = quantize_q4_k(std::vector<float>(256, 1.0f));
  std::vector<float> back(256);
  dequantize_row(TensorType::kQ4_K, bytes, back);
  for (float value : back) EXPECT_NEAR(value, 1.0f, 1e-3f);
}

// Expected bytes below are what ggml's quantize_row_q4_K_ref writes for the
// same inputs (obtained by compiling ggml-quants.c outside the repository).
TEST(QuantQ4KTest, MatchesGgmlOnBellBlock) {
  EXPECT_EQ(to_hex(quantize_q4_k(bell_values(7, 256, 0.05f))),
            "0e099b15e9f7f2ffe6b5a5bf1fc2ba7a1683f47a9c6b15858e7d7a1972a704ab8b8a60c8a5a6ca7e4c"
            "bfb69f666b9b9926a69dbbf381519b8280d485b9a592579b98e76898627e999d77a5a276be740482"
            "8aa955677e92c198455857a66a45b0750465c9e3a494de6abcd3f460c784793a097490a754554498"
            "8b352458637789764654b237fc9a6948be876966296624");
}

TEST(QuantQ4KTest, MatchesGgmlOnCornerCaseBlock) {
  EXPECT_EQ(to_hex(quantize_q4_k(corner_case_block())),
            "821a182ac00ac0060000c5033736ff25f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0"
            "f0f0f0f0f0f0f0f0609020509070605050b050e0a0e0a070e0c010a0804000a0b06090d060d06080"
            "a2c12f6181615190a1a17151c181619170818011b12161f151714151a081e1a17f8f3fcf4f6f9f7f"
            "006fef9f3f7f2f3faf5f0f1f8f1f0f4fbf3f6fdf4f3e4f4f");
}

TEST(QuantQ4KTest, MatchesGgmlOnMultiBlockRow) {
  EXPECT_EQ(fnv1a64(quantize_q4_k(bell_values(3, 1024, 1.0f))), 0x9b98b004983f9bd8ull);
}

}  // namespace
}  // namespace tether::kernels
