#include "engine/kernels/quantize.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/error.h"

namespace tether::kernels {
namespace {

constexpr TensorType kSupported[] = {TensorType::kF32,  TensorType::kF16,  TensorType::kBF16,
                                     TensorType::kQ8_0, TensorType::kQ4_0, TensorType::kQ4_K,
                                     TensorType::kQ6_K};

template <typename Fn>
ErrorCode error_code_of(Fn&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.code();
  }
  ADD_FAILURE() << "no tether::Error thrown";
  return ErrorCode::kInternal;
}

std::vector<float> gaussian(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> values(n);
  for (float& value : values) value = normal(rng);
  return values;
}

std::vector<float> round_trip(TensorType type, const std::vector<float>& src) {
  std::vector<uint8_t> bytes(row_bytes(type, static_cast<int64_t>(src.size())));
  quantize_row(type, src, bytes);
  std::vector<float> back(src.size());
  dequantize_row(type, bytes, back);
  return back;
}

double relative_rmse(const std::vector<float>& expected, const std::vector<float>& actual) {
  double error = 0;
  double norm = 0;
  for (size_t i = 0; i < expected.size(); ++i) {
    const double diff = static_cast<double>(actual[i]) - expected[i];
    error += diff * diff;
    norm += static_cast<double>(expected[i]) * expected[i];
  }
  return std::sqrt(error / norm);
}

TEST(QuantizeTest, SupportsExactlyTheSevenTypes) {
  for (TensorType type : kSupported) EXPECT_TRUE(supports_quantization(type));
  for (TensorType type : {TensorType::kQ4_1, TensorType::kQ5_0, TensorType::kQ5_K,
                          TensorType::kQ2_K, TensorType::kIQ2_XXS, TensorType::kI32}) {
    EXPECT_FALSE(supports_quantization(type)) << tensor_type_name(type);
  }
  EXPECT_FALSE(supports_quantization(static_cast<TensorType>(99)));
}

TEST(QuantizeTest, RowBytesFollowBlockLayouts) {
  EXPECT_EQ(row_bytes(TensorType::kF32, 10), 40u);
  EXPECT_EQ(row_bytes(TensorType::kF16, 3), 6u);
  EXPECT_EQ(row_bytes(TensorType::kBF16, 1), 2u);
  EXPECT_EQ(row_bytes(TensorType::kQ8_0, 64), 68u);
  EXPECT_EQ(row_bytes(TensorType::kQ4_0, 32), 18u);
  EXPECT_EQ(row_bytes(TensorType::kQ4_K, 512), 288u);
  EXPECT_EQ(row_bytes(TensorType::kQ6_K, 256), 210u);
  EXPECT_EQ(row_bytes(TensorType::kQ6_K, 0), 0u);
  EXPECT_EQ(row_bytes(TensorType::kQ4_K, 4864), 19u * 144u);  // Qwen2-0.5B's FFN width
}

TEST(QuantizeTest, RowBytesRejectsBadCounts) {
  EXPECT_EQ(error_code_of([] { row_bytes(TensorType::kQ8_0, 33); }), ErrorCode::kInvalidArgument);
  EXPECT_EQ(error_code_of([] { row_bytes(TensorType::kQ4_0, 16); }), ErrorCode::kInvalidArgument);
  EXPECT_EQ(error_code_of([] { row_bytes(TensorType::kQ4_K, 128); }), ErrorCode::kInvalidArgument);
  EXPECT_EQ(error_code_of([] { row_bytes(TensorType::kQ6_K, 896 + 32); }),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(error_code_of([] { row_bytes(TensorType::kF32, -1); }), ErrorCode::kInvalidArgument);
  EXPECT_EQ(error_code_of([] { row_bytes(TensorType::kQ5_K, 256); }), ErrorCode::kUnsupported);
  EXPECT_EQ(error_code_of([] { row_bytes(static_cast<TensorType>(99), 256); }),
            ErrorCode::kUnsupported);
}

TEST(QuantizeTest, ErrorMessagesNameTheProblem) {
  try {
    row_bytes(TensorType::kQ4_K, 100);
    FAIL() << "no throw";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "a q4_K row needs a multiple of 256 elements, got 100");
  }
}

TEST(QuantizeTest, RowFunctionsRejectMismatchedSizes) {
  const std::vector<float> src(256, 1.0f);
  std::vector<uint8_t> dst(144);
  std::vector<float> out(256);
  EXPECT_EQ(error_code_of([&] {
              quantize_row(TensorType::kQ4_K, std::span(src).first(200), dst);
            }),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(error_code_of([&] {
              quantize_row(TensorType::kQ4_K, src, std::span(dst).first(143));
            }),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(error_code_of([&] { quantize_row(TensorType::kQ6_K, src, dst); }),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(error_code_of([&] { quantize_row(TensorType::kQ5_K, src, dst); }),
            ErrorCode::kUnsupported);
  EXPECT_EQ(error_code_of([&] {
              dequantize_row(TensorType::kQ4_K, std::span(dst).first(100), out);
            }),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(error_code_of([&] {
              dequantize_row(TensorType::kQ8_0, dst, std::span(out).first(31));
            }),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(error_code_of([&] { dequantize_row(TensorType::kIQ2_XS, dst, out); }),
            ErrorCode::kUnsupported);
}

// Bounds are the errors measured on this data plus ~10% slack; they are
// properties of ggml's algorithms (Q4_0's single symmetric scale is the
// coarsest, Q4_K's per-32 scales and mins do better, Q6_K and Q8_0 far better).
TEST(QuantizeTest, RoundTripErrorOnGaussianData) {
  const std::vector<float> src = gaussian(256 * 256, 1234);
  struct Bound {
    TensorType type;
    double max_relative_rmse;
  };
  for (const Bound& bound : {Bound{TensorType::kQ8_0, 0.0060}, Bound{TensorType::kQ6_K, 0.020},
                             Bound{TensorType::kQ4_K, 0.078}, Bound{TensorType::kQ4_0, 0.095}}) {
    const double error = relative_rmse(src, round_trip(bound.type, src));
    EXPECT_LT(error, bound.max_relative_rmse) << tensor_type_name(bound.type);
    EXPECT_GT(error, bound.max_relative_rmse / 4) << tensor_type_name(bound.type);
  }
}

TEST(QuantizeTest, FloatTypesRoundEachElementWithinHalfAnUlp) {
  const std::vector<float> src = gaussian(4096, 99);
  EXPECT_EQ(round_trip(TensorType::kF32, src), src);
  const std::vector<float> f16 = round_trip(TensorType::kF16, src);
  const std::vector<float> bf16 = round_trip(TensorType::kBF16, src);
  for (size_t i = 0; i < src.size(); ++i) {
    const float magnitude = std::fabs(src[i]);
    if (magnitude >= 0x1p-14f) {  // normal halves: 11 significant bits
      EXPECT_LE(std::fabs(f16[i] - src[i]), magnitude * 0x1p-11f) << i;
    } else {
      EXPECT_LE(std::fabs(f16[i] - src[i]), 0x1p-25f) << i;
    }
    EXPECT_LE(std::fabs(bf16[i] - src[i]), magnitude * 0x1p-8f) << i;  // 8 significant bits
  }
}

TEST(QuantizeTest, QuantizedTypesKeepTheRowsScale) {
  // Scaling the input by a power of two scales every type's output exactly
  // the same way (all scales are exact in fp16 at these magnitudes).
  const std::vector<float> src = gaussian(1024, 5);
  std::vector<float> scaled = src;
  for (float& value : scaled) value *= 4.0f;
  for (TensorType type : kSupported) {
    const std::vector<float> a = round_trip(type, src);
    const std::vector<float> b = round_trip(type, scaled);
    for (size_t i = 0; i < a.size(); ++i) {
      ASSERT_EQ(b[i], a[i] * 4.0f) << tensor_type_name(type) << " element " << i;
    }
  }
}

TEST(QuantizeTest, WorksOnUnalignedBuffers) {
  const std::vector<float> src = gaussian(512, 7);
  for (TensorType type : kSupported) {
    const size_t n_bytes = row_bytes(type, 512);
    std::vector<uint8_t> aligned(n_bytes);
    quantize_row(type, src, aligned);
    std::vector<uint8_t> storage(n_bytes + 1);
    const std::span<uint8_t> unaligned = std::span(storage).subspan(1);
    quantize_row(type, src, unaligned);
    EXPECT_TRUE(std::equal(aligned.begin(), aligned.end(), unaligned.begin()))
        << tensor_type_name(type);
    std::vector<float> from_aligned(512);
    std::vector<float> from_unaligned(512);
    dequantize_row(type, aligned, from_aligned);
    dequantize_row(type, unaligned, from_unaligned);
    EXPECT_EQ(std::memcmp(from_aligned.data(), from_unaligned.data(), 512 * sizeof(float)), 0)
        << tensor_type_name(type);
  }
}

TEST(QuantizeTest, AnyBytesDequantizeWithoutThrowing) {
  // Rows from a file are untrusted: every bit pattern must decode.
  std::mt19937 rng(3);
  for (TensorType type : kSupported) {
    std::vector<uint8_t> bytes(row_bytes(type, 1024));
    for (uint8_t& byte : bytes) byte = static_cast<uint8_t>(rng());
    std::vector<float> out(1024);
    EXPECT_NO_THROW(dequantize_row(type, bytes, out)) << tensor_type_name(type);
  }
}

TEST(QuantizeTest, NonFiniteInputsDoNotCrash) {
  std::vector<float> src = gaussian(256, 11);
  src[3] = std::numeric_limits<float>::infinity();
  src[77] = std::numeric_limits<float>::quiet_NaN();
  src[200] = -std::numeric_limits<float>::infinity();
  for (TensorType type : kSupported) {
    std::vector<uint8_t> bytes(row_bytes(type, 256));
    EXPECT_NO_THROW(quantize_row(type, src, bytes)) << tensor_type_name(type);
    std::vector<float> out(256);
    EXPECT_NO_THROW(dequantize_row(type, bytes, out)) << tensor_type_name(type);
  }
}

}  // namespace
}  // namespace tether::kernels
