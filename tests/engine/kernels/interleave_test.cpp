#include "engine/kernels/interleave.h"

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "common/error.h"
#include "engine/kernels/cpu_features.h"
#include "engine/kernels/quantize.h"

namespace tether::kernels {
namespace {

struct Rows {
  std::vector<uint8_t> bytes;
  WeightMatrix w;
};

Rows make_rows(TensorType type, int64_t rows, int64_t cols, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  Rows out;
  const size_t rb = row_bytes(type, cols);
  out.bytes.resize(rb * static_cast<size_t>(rows));
  std::vector<float> src(static_cast<size_t>(cols));
  for (int64_t r = 0; r < rows; ++r) {
    for (auto& v : src) v = dist(rng);
    quantize_row(type, src, std::span<uint8_t>(out.bytes.data() + r * rb, rb));
  }
  out.w = WeightMatrix{type, out.bytes.data(), rows, cols, rb};
  return out;
}

std::vector<float> random_floats(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& f : v) f = dist(rng);
  return v;
}

std::vector<float> multiply(const WeightMatrix& w, const std::vector<float>& x, int64_t n_tokens,
                            ThreadPool& pool, KernelPath path) {
  std::vector<float> y(static_cast<size_t>(n_tokens * w.rows), -1.0f);
  matmul(w, x.data(), n_tokens, w.cols, y.data(), w.rows, pool, path);
  return y;
}

std::vector<KernelPath> paths() {
  std::vector<KernelPath> p = {KernelPath::kScalar};
  if (best_kernel_path() == KernelPath::kAvx2) p.push_back(KernelPath::kAvx2);
  return p;
}

constexpr TensorType kTypes[] = {TensorType::kQ4_0, TensorType::kQ8_0, TensorType::kQ4_K};

// A row length of `blocks` blocks of the type (32 or 256 elements).
int64_t cols_of(TensorType type, int64_t blocks) {
  return blocks * static_cast<int64_t>(traits_of(type).block_elems);
}

TEST(Interleave, RowsReadBackUnchangedIncludingTheTail) {
  for (TensorType type : kTypes) {
    for (int64_t rows : {8, 13, 24}) {
      const int64_t cols = cols_of(type, 3);
      const Rows src = make_rows(type, rows, cols, 3);
      const PackedMatrix packed = pack_for_matmul(src.w);
      ASSERT_EQ(packed.matrix.layout, RowLayout::kInterleaved8);
      // Same total size, and the groups really moved bytes around.
      EXPECT_NE(std::memcmp(packed.matrix.data, src.bytes.data(), 8 * src.w.row_bytes), 0);
      std::vector<float> a(cols), b(cols);
      for (int64_t r = 0; r < rows; ++r) {
        dequantize_matrix_row(src.w, r, a);
        dequantize_matrix_row(packed.matrix, r, b);
        EXPECT_EQ(a, b) << tensor_type_name(type) << " row " << r << " of " << rows;
      }
    }
  }
}

TEST(Interleave, ReportsConsumedBytesUpToTheWholeMatrix) {
  const Rows src = make_rows(TensorType::kQ8_0, 16, 64, 1);
  std::vector<size_t> reports;
  pack_for_matmul(src.w, [&](size_t bytes) { reports.push_back(bytes); });
  ASSERT_FALSE(reports.empty());
  EXPECT_EQ(reports.back(), src.bytes.size());
}

TEST(Interleave, OtherTypesAndShortMatricesStayInPlace) {
  const Rows f16 = make_rows(TensorType::kF16, 16, 64, 1);
  EXPECT_EQ(pack_for_matmul(f16.w).matrix.data, f16.w.data);
  const Rows q6 = make_rows(TensorType::kQ6_K, 16, 256, 1);
  EXPECT_EQ(pack_for_matmul(q6.w).matrix.layout, RowLayout::kRows);
  const Rows few = make_rows(TensorType::kQ4_0, 7, 64, 1);
  EXPECT_EQ(pack_for_matmul(few.w).matrix.layout, RowLayout::kRows);
  EXPECT_FALSE(supports_interleave(TensorType::kQ6_K));
}

TEST(Interleave, MatmulAgreesWithTheRowLayout) {
  ThreadPool pool(2);
  for (TensorType type : kTypes) {
    for (int64_t rows : {8, 21, 48}) {
      const int64_t cols = cols_of(type, 4);
      const Rows src = make_rows(type, rows, cols, 5);
      const PackedMatrix packed = pack_for_matmul(src.w);
      for (int64_t n_tokens : {1, 3, 4, 9}) {
        const auto x = random_floats(static_cast<size_t>(n_tokens * cols), 9);
        for (KernelPath path : paths()) {
          const auto expect = multiply(src.w, x, n_tokens, pool, path);
          const auto got = multiply(packed.matrix, x, n_tokens, pool, path);
          for (size_t i = 0; i < expect.size(); ++i) {
            // Same integer dot products; only the float summation order differs.
            EXPECT_NEAR(got[i], expect[i], 1e-4 * (1.0 + std::fabs(expect[i])))
                << tensor_type_name(type) << " rows " << rows << " tokens " << n_tokens << " at " << i;
          }
        }
      }
    }
  }
}

TEST(Interleave, ScalarAndAvx2AgreeToTheBit) {
  if (best_kernel_path() != KernelPath::kAvx2) GTEST_SKIP() << "this CPU lacks AVX2/FMA/F16C";
  ThreadPool pool(1);
  for (TensorType type : kTypes) {
    const int64_t cols = cols_of(type, 8);
    const Rows src = make_rows(type, 37, cols, 11);
    const PackedMatrix packed = pack_for_matmul(src.w);
    for (int64_t n_tokens : {1, 5, 16}) {
      const auto x = random_floats(static_cast<size_t>(n_tokens * cols), 13);
      EXPECT_EQ(multiply(packed.matrix, x, n_tokens, pool, KernelPath::kScalar),
                multiply(packed.matrix, x, n_tokens, pool, KernelPath::kAvx2))
          << tensor_type_name(type) << " tokens " << n_tokens;
    }
  }
}

TEST(Interleave, ResultsIgnoreBatchCompositionAndThreadCount) {
  ThreadPool one(1);
  ThreadPool two(2);
  for (TensorType type : kTypes) {
    const int64_t cols = cols_of(type, 2);
    const Rows src = make_rows(type, 200, cols, 17);
    const PackedMatrix packed = pack_for_matmul(src.w);
    const int64_t n_tokens = 11;
    const auto x = random_floats(static_cast<size_t>(n_tokens * cols), 19);
    const auto batch = multiply(packed.matrix, x, n_tokens, two, best_kernel_path());
    EXPECT_EQ(batch, multiply(packed.matrix, x, n_tokens, one, best_kernel_path()));
    for (int64_t k = 0; k < n_tokens; ++k) {
      const std::vector<float> xk(x.begin() + k * cols, x.begin() + (k + 1) * cols);
      const auto alone = multiply(packed.matrix, xk, 1, two, best_kernel_path());
      EXPECT_TRUE(std::equal(alone.begin(), alone.end(), batch.begin() + k * 200))
          << tensor_type_name(type) << " token " << k;
    }
  }
}

TEST(Interleave, ExtremeQuantsDoNotOverflow) {
  // Q8_0 quants of -128 (legal bytes, though ggml never writes them) and
  // Q4_0 nibbles of 0 and 15 against activations at full scale.
  ThreadPool pool(1);
  for (TensorType type : {TensorType::kQ4_0, TensorType::kQ8_0}) {
    Rows src = make_rows(type, 8, 64, 23);
    const size_t block = type == TensorType::kQ8_0 ? 34 : 18;
    for (size_t off = 0; off < src.bytes.size(); off += block) {
      const uint16_t one = 0x3c00;  // fp16 1.0
      std::memcpy(src.bytes.data() + off, &one, 2);
      const bool low = (off / block) % 2 == 0;
      std::memset(src.bytes.data() + off + 2, type == TensorType::kQ8_0 ? 0x80 : (low ? 0x00 : 0xff),
                  block - 2);
    }
    const PackedMatrix packed = pack_for_matmul(src.w);
    std::vector<float> x(64, 1.0f);
    for (KernelPath path : paths()) {
      const auto expect = multiply(src.w, x, 1, pool, path);
      const auto got = multiply(packed.matrix, x, 1, pool, path);
      for (size_t i = 0; i < got.size(); ++i) {
        EXPECT_NEAR(got[i], expect[i], 1e-3 * std::fabs(expect[i])) << tensor_type_name(type);
      }
      // Q8_0: 64 values of -128 * 1; Q4_0: 32 * (0 - 8) + 32 * (15 - 8).
      EXPECT_NEAR(got[0], type == TensorType::kQ8_0 ? -8192.0f : -32.0f, 1.0f);
    }
  }
}

}  // namespace
}  // namespace tether::kernels
