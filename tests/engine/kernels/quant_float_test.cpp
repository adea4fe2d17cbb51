#include <cstdint>
#include <vector>

#include <gtest/gtest.h>

#include "engine/kernels/quantize.h"

namespace tether::kernels {
namespace {

TEST(QuantFloatTest, F32IsLittleEndianIeee) {
  const std::vector<float> src = {1.0f, -2.5f};
  std::vector<uint8_t> bytes(8);
  quantize_row(TensorType::kF32, src, bytes);
  EXPECT_EQ(bytes, (std::vector<uint8_t>{0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x20, 0xc0}));
  std::vector<float> back(2);
  dequantize_row(TensorType::kF32, bytes, back);
  EXPECT_EQ(back, src);
}

TEST(QuantFloatTest, F16RowBytes) {
  const std::vector<float> src = {1.0f, -2.0f, 65504.0f, 0x1p-24f};
  std::vector<uint8_t> bytes(8);
  quantize_row(TensorType::kF16, src, bytes);
  EXPECT_EQ(bytes, (std::vector<uint8_t>{0x00, 0x3c, 0x00, 0xc0, 0xff, 0x7b, 0x01, 0x00}));
  std::vector<float> back(4);
  dequantize_row(TensorType::kF16, bytes, back);
  EXPECT_EQ(back, src);
}

TEST(QuantFloatTest, Bf16RowBytes) {
  const std::vector<float> src = {1.0f, -2.0f, 3.140625f};
  std::vector<uint8_t> bytes(6);
  quantize_row(TensorType::kBF16, src, bytes);
  EXPECT_EQ(bytes, (std::vector<uint8_t>{0x80, 0x3f, 0x00, 0xc0, 0x49, 0x40}));
  std::vector<float> back(3);
  dequantize_row(TensorType::kBF16, bytes, back);
  EXPECT_EQ(back, src);
}

TEST(QuantFloatTest, F16RoundsEachElement) {
  const std::vector<float> src = {0.1f, 1.0f + 0x1p-11f, 70000.0f};
  std::vector<uint8_t> bytes(6);
  quantize_row(TensorType::kF16, src, bytes);
  EXPECT_EQ(bytes, (std::vector<uint8_t>{0x66, 0x2e, 0x00, 0x3c, 0x00, 0x7c}));
}

}  // namespace
}  // namespace tether::kernels
