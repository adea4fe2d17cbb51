#include <cstdint>
#include <vector>

#include <gtest/gtest.h>

#include "engine/kernels/quant_test_inputs.h"
#include "engine/kernels/quantize.h"

namespace tether::kernels {
namespace {

using testing::bell_values;
using testing::corner_case_block;
using testing::fnv1a64;
using testing::to_hex;

constexpr int8_t kScales[16] = {1, -1, 2, -2, 127, -128, 3, 5, 7, -7, 10, 0, 64, -64, 9, 11};

// ql[k] = k, every qh byte 0xe4 (two-bit fields 0, 1, 2, 3 from the bottom),
// the scales above, d = 0.25 (fp16 0x3400) at the end.
std::vector<uint8_t> hand_built_block() {
  std::vector<uint8_t> block;
  for (int k = 0; k < 128; ++k) block.push_back(static_cast<uint8_t>(k));
  block.insert(block.end(), 64, 0xe4);
  for (int8_t scale : kScales) block.push_back(static_cast<uint8_t>(scale));
  block.push_back(0x00);
  block.push_back(0x34);
  return block;
}

std::vector<uint8_t> quantize_q6_k(const std::vector<float>& src) {
  std::vector<uint8_t> bytes(row_bytes(TensorType::kQ6_K, static_cast<int64_t>(src.size())));
  quantize_row(TensorType::kQ6_K, src, bytes);
  return bytes;
}

TEST(QuantQ6KTest, DequantizesHandBuiltBlock) {
  // In each 128-element half h, group g = (e % 128) / 32 and i = e % 32:
  // groups 0/1 take the low nibble of ql[64h + i] / ql[64h + 32 + i], groups
  // 2/3 the high nibble of the same bytes, and qh bits 2g..2g+1 of qh[32h + i]
  // are the top two bits (g itself here). Value = d * scale[e / 16] * (q - 32).
  std::vector<float> out(256);
  dequantize_row(TensorType::kQ6_K, hand_built_block(), out);
  for (int e = 0; e < 256; ++e) {
    const int half = e / 128;
    const int group = (e % 128) / 32;
    const int i = e % 32;
    const int ql = 64 * half + (group % 2) * 32 + i;
    const int nibble = group < 2 ? (ql & 0x0f) : (ql >> 4);
    const int q = nibble | (group << 4);
    EXPECT_EQ(out[e], 0.25f * kScales[e / 16] * (q - 32)) << e;
  }
  // A few worked by hand.
  EXPECT_EQ(out[0], -8.0f);     // q = 0: 0.25 * 1 * -32
  EXPECT_EQ(out[33], -7.5f);    // low nibble of ql[33] = 1, high bits 1: q = 17; scale 2
  EXPECT_EQ(out[80], -32.0f);   // high nibble of ql[16] = 1, high bits 2: q = 33; scale -128
  EXPECT_EQ(out[127], 23.75f);  // high nibble of ql[63] = 3, high bits 3: q = 51; scale 5
  EXPECT_EQ(out[130], -52.5f);  // low nibble of ql[66] = 2: q = 2; scale 7
  EXPECT_EQ(out[200], 64.0f);   // high nibble of ql[72] = 4, high bits 2: q = 36; scale 64
}

TEST(QuantQ6KTest, AllZeroBlockIsAllZeroBytes) {
  EXPECT_EQ(quantize_q6_k(std::vector<float>(256, 0.0f)), std::vector<uint8_t>(210, 0));
}

TEST(QuantQ6KTest, ConstantBlockDecodesClosely) {
  const std::vector<uint8_t> bytes = quantize_q6_k(std::vector<float>(256, -1.5f));
  std::vector<float> back(256);
  dequantize_row(TensorType::kQ6_K, bytes, back);
  for (float value : back) EXPECT_NEAR(value, -1.5f, 2e-3f);
}

// Expected bytes below are what ggml's quantize_row_q6_K_ref writes for the
// same inputs (obtained by compiling ggml-quants.c outside the repository).
TEST(QuantQ6KTest, MatchesGgmlOnBellBlock) {
  EXPECT_EQ(to_hex(quantize_q6_k(bell_values(7, 256, 0.05f))),
            "25370bb724cfadae7eebea73607a68e1d9b8f1b0a53716665ce8573b180cab92035d28bbd1d7e3fc"
            "cdd92bd59b4420d52bfb204a0d799a18218345518b7ea30115a436192151b55b7b497c4f84133aad"
            "1844c63afda3346eac06ef533140359a210072fc70aca94f16d31cbc911041bacb8127d1ab0a4416"
            "68ee950d19ef10db21a48c86fb7630447777e66294a9b01b8656d45e99794e97825fadbb61826a2a"
            "7b299d82e6545b5fe9b251116e95a2af65a1a53e9c09599f960b5c9da49aa9a6c6ae92c750579980"
            "6d96d1a3a367ad795a81");
}

TEST(QuantQ6KTest, MatchesGgmlOnCornerCaseBlock) {
  EXPECT_EQ(to_hex(quantize_q6_k(corner_case_block())),
            "101010101010101010101010101010101010101010101010101010101010101050c080a0a01050c0"
            "c030a05070304030a02080a000402080d0a050509050b0201ef0000f0f1000010f00f0001f00000f"
            "a884258bd47f7dbf6024b4896f0f6a9cddaaa2c9610b75c68fec2f73bae3f8a823dc7eaca3982662"
            "6d43fdec971e76968040c080408080808040800040004080c0c0008080400080804080c040c04080"
            "695ea025a9a6666ac96a1666ad6aa6a9db66173d952d1851d87959d96744525500001515f5f506f9"
            "6b04fb0680fb06fb0092");
}

TEST(QuantQ6KTest, MatchesGgmlOnMultiBlockRow) {
  EXPECT_EQ(fnv1a64(quantize_q6_k(bell_values(3, 1024, 1.0f))), 0x93c8f89b2b2ee9b6ull);
}

}  // namespace
}  // namespace tether::kernels
