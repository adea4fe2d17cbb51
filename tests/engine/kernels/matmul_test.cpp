#include "engine/kernels/matmul.h"

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/error.h"
#include "engine/kernels/fp16.h"
#include "engine/kernels/matmul_internal.h"
#include "engine/kernels/quantize.h"

namespace tether::kernels {
namespace {

constexpr TensorType kAllTypes[] = {TensorType::kF32,  TensorType::kF16,  TensorType::kBF16,
                                    TensorType::kQ8_0, TensorType::kQ4_0, TensorType::kQ4_K,
                                    TensorType::kQ6_K};

bool is_float_type(TensorType t) {
  return t == TensorType::kF32 || t == TensorType::kF16 || t == TensorType::kBF16;
}

// Weights quantized from random floats, rows `row_bytes` apart (optionally
// padded), plus their exact dequantized values for the reference.
struct TestWeights {
  std::vector<uint8_t> bytes;
  std::vector<float> dequantized;  // rows x cols
  WeightMatrix w;
};

TestWeights make_weights(TensorType type, int64_t rows, int64_t cols, size_t pad_bytes,
                         uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  TestWeights t;
  const size_t rb = row_bytes(type, cols);
  t.w = WeightMatrix{type, nullptr, rows, cols, rb + pad_bytes};
  t.bytes.assign(static_cast<size_t>(rows) * t.w.row_bytes, 0xAB);
  t.dequantized.resize(static_cast<size_t>(rows * cols));
  std::vector<float> src(static_cast<size_t>(cols));
  for (int64_t r = 0; r < rows; ++r) {
    for (auto& v : src) v = dist(rng);
    std::span<uint8_t> dst(t.bytes.data() + r * t.w.row_bytes, rb);
    quantize_row(type, src, dst);
    dequantize_row(type, dst,
                   std::span<float>(t.dequantized.data() + r * cols, static_cast<size_t>(cols)));
  }
  t.w.data = t.bytes.data();
  return t;
}

std::vector<float> make_activations(int64_t n_tokens, int64_t stride, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(n_tokens * stride));
  for (auto& v : x) v = dist(rng);
  return x;
}

// |error| allowed for one output: float rounding relative to sum |w x|, plus
// for quantized activations half a quantization step per element (the
// activations are rounded to amax/127 steps per block of 32 or 256).
double tolerance(TensorType type, const float* w_row, const float* x, int64_t cols) {
  double abs_sum = 0.0;
  for (int64_t c = 0; c < cols; ++c) abs_sum += std::fabs(double{w_row[c]} * x[c]);
  double tol = 2e-5 * abs_sum + 1e-6;
  if (!is_float_type(type)) {
    const int64_t block = (type == TensorType::kQ8_0 || type == TensorType::kQ4_0) ? 32 : 256;
    for (int64_t b = 0; b < cols / block; ++b) {
      double amax = 0.0;
      double w_abs = 0.0;
      for (int64_t j = b * block; j < (b + 1) * block; ++j) {
        amax = std::max(amax, std::fabs(double{x[j]}));
        w_abs += std::fabs(double{w_row[j]});
      }
      // Q8_0's scale is stored as fp16: up to 2^-11 relative extra error.
      tol += w_abs * amax * (0.5 / 127.0 + 1.0 / 2048.0) * 1.01;
    }
  }
  return tol;
}

struct Case {
  TensorType type;
  int64_t rows;
  int64_t cols;
  int64_t n_tokens;
  int64_t x_pad;
  int64_t y_pad;
  size_t row_pad;
};

std::vector<float> run(const TestWeights& tw, const Case& c, const std::vector<float>& x,
                       KernelPath path, int threads) {
  const int64_t x_stride = c.cols + c.x_pad;
  const int64_t y_stride = c.rows + c.y_pad;
  std::vector<float> y(static_cast<size_t>(c.n_tokens * y_stride), -777.0f);
  ThreadPool pool(threads);
  matmul(tw.w, x.data(), c.n_tokens, x_stride, y.data(), y_stride, pool, path);
  return y;
}

void check_against_reference(const Case& c, KernelPath path, int threads) {
  SCOPED_TRACE(std::string(tensor_type_name(c.type)) + " " + std::string(kernel_path_name(path)) +
               " rows " + std::to_string(c.rows) + " cols " + std::to_string(c.cols) + " tokens " +
               std::to_string(c.n_tokens) + " threads " + std::to_string(threads));
  const TestWeights tw = make_weights(c.type, c.rows, c.cols, c.row_pad, 11);
  const int64_t x_stride = c.cols + c.x_pad;
  const int64_t y_stride = c.rows + c.y_pad;
  const std::vector<float> x = make_activations(c.n_tokens, x_stride, 23);
  const std::vector<float> y = run(tw, c, x, path, threads);
  int failures = 0;
  for (int64_t k = 0; k < c.n_tokens; ++k) {
    const float* xk = x.data() + k * x_stride;
    for (int64_t r = 0; r < c.rows; ++r) {
      const float* wr = tw.dequantized.data() + r * c.cols;
      double ref = 0.0;
      for (int64_t col = 0; col < c.cols; ++col) ref += double{wr[col]} * xk[col];
      const double tol = tolerance(c.type, wr, xk, c.cols);
      const double got = y[static_cast<size_t>(k * y_stride + r)];
      if (!(std::fabs(got - ref) <= tol) && ++failures < 5) {
        ADD_FAILURE() << "token " << k << " row " << r << ": got " << got << ", want " << ref
                      << " +- " << tol;
      }
    }
    // Padding between output rows stays untouched.
    for (int64_t r = c.rows; r < y_stride && k + 1 < c.n_tokens; ++r) {
      ASSERT_EQ(y[static_cast<size_t>(k * y_stride + r)], -777.0f);
    }
  }
  EXPECT_EQ(failures, 0);
}

std::vector<KernelPath> paths() {
  std::vector<KernelPath> p{KernelPath::kScalar};
  if (best_kernel_path() == KernelPath::kAvx2) p.push_back(KernelPath::kAvx2);
  return p;
}

int64_t cols_for(TensorType type, int64_t multiple) {
  return (type == TensorType::kQ4_K || type == TensorType::kQ6_K) ? 256 * multiple : 32 * multiple * 3;
}

TEST(MatmulTest, MatchesDoubleReferenceForEveryTypeAndPath) {
  for (TensorType type : kAllTypes) {
    for (KernelPath path : paths()) {
      for (int64_t n_tokens : {1, 3, 16}) {
        const int64_t cols = cols_for(type, 2);
        check_against_reference({type, 37, cols, n_tokens, 0, 0, 0}, path, 2);
      }
      // Odd row counts, padded strides, padded weight rows, a single row.
      check_against_reference({type, 1, cols_for(type, 1), 5, 3, 2, 0}, path, 3);
      check_against_reference({type, 19, cols_for(type, 3), 7, 5, 9, 6}, path, 1);
      check_against_reference({type, 130, cols_for(type, 1), 2, 0, 1, 2}, path, 2);
    }
  }
}

TEST(MatmulTest, FloatTypesWithOddColumnCounts) {
  for (TensorType type : {TensorType::kF32, TensorType::kF16, TensorType::kBF16}) {
    for (KernelPath path : paths()) {
      for (int64_t cols : {1, 7, 13, 45}) {
        check_against_reference({type, 9, cols, 3, 1, 0, 0}, path, 2);
      }
    }
  }
}

TEST(MatmulTest, ResultsAreBitIdenticalAcrossThreadCounts) {
  for (TensorType type : kAllTypes) {
    for (KernelPath path : paths()) {
      const Case c{type, 203, cols_for(type, 2), 5, 1, 3, 0};
      const TestWeights tw = make_weights(type, c.rows, c.cols, 0, 5);
      const std::vector<float> x = make_activations(c.n_tokens, c.cols + c.x_pad, 6);
      const std::vector<float> y1 = run(tw, c, x, path, 1);
      const std::vector<float> y2 = run(tw, c, x, path, 2);
      const std::vector<float> y3 = run(tw, c, x, path, 3);
      EXPECT_EQ(0, std::memcmp(y1.data(), y2.data(), y1.size() * sizeof(float)))
          << tensor_type_name(type);
      EXPECT_EQ(0, std::memcmp(y1.data(), y3.data(), y1.size() * sizeof(float)))
          << tensor_type_name(type);
    }
  }
}

TEST(MatmulTest, BatchedRowsEqualOneTokenAtATime) {
  // A token's result must not depend on which other tokens share the call
  // (batched decode vs one sequence at a time).
  for (TensorType type : kAllTypes) {
    for (KernelPath path : paths()) {
      const Case c{type, 45, cols_for(type, 2), 11, 0, 0, 0};
      const TestWeights tw = make_weights(type, c.rows, c.cols, 0, 8);
      const std::vector<float> x = make_activations(c.n_tokens, c.cols, 9);
      const std::vector<float> batched = run(tw, c, x, path, 2);
      for (int64_t k = 0; k < c.n_tokens; ++k) {
        std::vector<float> one(static_cast<size_t>(c.rows));
        ThreadPool pool(1);
        matmul(tw.w, x.data() + k * c.cols, 1, c.cols, one.data(), c.rows, pool, path);
        EXPECT_EQ(0, std::memcmp(one.data(), batched.data() + k * c.rows, one.size() * 4))
            << tensor_type_name(type) << " token " << k;
      }
    }
  }
}

TEST(MatmulTest, SupportsExactlyTheSevenTypes) {
  for (TensorType type : kAllTypes) EXPECT_TRUE(supports_matmul(type));
  EXPECT_FALSE(supports_matmul(TensorType::kQ5_K));
  EXPECT_FALSE(supports_matmul(TensorType::kQ4_1));
  uint8_t dummy[64] = {};
  float x[64] = {};
  float y[4] = {};
  ThreadPool pool(1);
  const WeightMatrix w{TensorType::kQ5_K, dummy, 1, 256, 176};
  try {
    matmul(w, x, 1, 256, y, 1, pool);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUnsupported);
    EXPECT_NE(std::string(e.what()).find("q5_K"), std::string::npos) << e.what();
  }
}

TEST(MatmulTest, RejectsBadShapes) {
  std::vector<uint8_t> bytes(1024);
  std::vector<float> x(256), y(16);
  ThreadPool pool(1);
  // Columns not a multiple of the block.
  EXPECT_THROW(matmul({TensorType::kQ8_0, bytes.data(), 2, 40, 34}, x.data(), 1, 40, y.data(), 2,
                      pool),
               Error);
  // Row stride smaller than a row.
  EXPECT_THROW(matmul({TensorType::kQ8_0, bytes.data(), 2, 64, 40}, x.data(), 1, 64, y.data(), 2,
                      pool),
               Error);
  // Token strides smaller than the rows they step over.
  EXPECT_THROW(matmul({TensorType::kF32, bytes.data(), 2, 8, 32}, x.data(), 2, 4, y.data(), 2,
                      pool),
               Error);
}

TEST(MatmulTest, EmptyShapes) {
  ThreadPool pool(2);
  std::vector<float> y(6, 5.0f);
  float x[4] = {};
  matmul({TensorType::kF32, nullptr, 3, 0, 0}, x, 2, 0, y.data(), 3, pool);
  for (float v : y) EXPECT_EQ(v, 0.0f);
  matmul({TensorType::kF32, nullptr, 0, 4, 16}, x, 1, 4, y.data(), 0, pool);
  matmul({TensorType::kF32, nullptr, 3, 4, 16}, x, 0, 4, y.data(), 3, pool);
}

}  // namespace
}  // namespace tether::kernels
