// The AVX2 kernels against their scalar twins: integer block dot products and
// activation quants must agree exactly; whole matmuls on inputs whose sums
// are exact in float must agree bit for bit (and with a double reference).
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "engine/kernels/fp16.h"
#include "engine/kernels/matmul.h"
#include "engine/kernels/matmul_internal.h"
#include "engine/kernels/quantize.h"

namespace tether::kernels::detail {
namespace {

#if defined(TETHER_KERNELS_AVX2)

#define SKIP_WITHOUT_AVX2()                                                          \
  do {                                                                               \
    if (best_kernel_path() != KernelPath::kAvx2)                                     \
      GTEST_SKIP() << "this CPU lacks AVX2/FMA/F16C (or TETHER_FORCE_SCALAR=1), so " \
                      "there is no AVX2 path to compare";                            \
  } while (0)

template <typename Block>
Block random_block(std::mt19937& rng) {
  Block b;
  auto* bytes = reinterpret_cast<uint8_t*>(&b);
  for (size_t i = 0; i < sizeof(Block); ++i) bytes[i] = static_cast<uint8_t>(rng());
  return b;
}

BlockQ8_0 random_q8_0_activation(std::mt19937& rng) {
  BlockQ8_0 b{};
  b.d = fp32_to_fp16(0.01f);
  // The activation quantizer never writes -128.
  for (auto& q : b.qs) q = static_cast<int8_t>(static_cast<int>(rng() % 255) - 127);
  return b;
}

BlockQ8K random_q8_k_activation(std::mt19937& rng) {
  BlockQ8K b{};
  b.d = 0.01f;
  for (int g = 0; g < 16; ++g) {
    int sum = 0;
    for (int j = 0; j < 16; ++j) {
      b.qs[16 * g + j] = static_cast<int8_t>(static_cast<int>(rng() % 255) - 127);
      sum += b.qs[16 * g + j];
    }
    b.bsums[g] = static_cast<int16_t>(sum);
  }
  return b;
}

TEST(MatmulAvx2Test, BlockDotProductsEqualScalarExactly) {
  SKIP_WITHOUT_AVX2();
  std::mt19937 rng(1);
  for (int iter = 0; iter < 2000; ++iter) {
    const BlockQ8_0 x8 = random_q8_0_activation(rng);
    const BlockQ8K xk = random_q8_k_activation(rng);
    const auto w8 = random_block<BlockQ8_0>(rng);
    ASSERT_EQ(dot_q8_0_block_scalar(w8, x8), dot_q8_0_block_avx2(w8, x8));
    const auto w4 = random_block<BlockQ4_0>(rng);
    ASSERT_EQ(dot_q4_0_block_scalar(w4, x8), dot_q4_0_block_avx2(w4, x8));
    const auto wk4 = random_block<BlockQ4_K>(rng);
    int32_t a_qx, a_min, b_qx, b_min;
    dot_q4_k_block_scalar(wk4, xk, &a_qx, &a_min);
    dot_q4_k_block_avx2(wk4, xk, &b_qx, &b_min);
    ASSERT_EQ(a_qx, b_qx);
    ASSERT_EQ(a_min, b_min);
    const auto wk6 = random_block<BlockQ6_K>(rng);
    ASSERT_EQ(dot_q6_k_block_scalar(wk6, xk), dot_q6_k_block_avx2(wk6, xk));
  }
  // Extremes: all weights -128 (Q8_0) against +-127 activations.
  BlockQ8_0 w{};
  BlockQ8_0 x{};
  for (int j = 0; j < 32; ++j) {
    w.qs[j] = -128;
    x.qs[j] = j % 2 ? 127 : -127;
  }
  EXPECT_EQ(dot_q8_0_block_scalar(w, x), dot_q8_0_block_avx2(w, x));
}

TEST(MatmulAvx2Test, ActivationQuantsEqualScalarExactly) {
  SKIP_WITHOUT_AVX2();
  std::mt19937 rng(2);
  std::normal_distribution<float> dist(0.0f, 3.0f);
  constexpr int kCols = 1024;
  std::vector<float> x(kCols);
  for (int iter = 0; iter < 50; ++iter) {
    for (auto& v : x) v = dist(rng);
    if (iter == 1) std::fill(x.begin(), x.begin() + 256, 0.0f);  // an all-zero block
    if (iter == 2) {
      // Exact halves test the tie rounding.
      for (int j = 0; j < kCols; ++j) x[j] = (j % 2 ? 0.5f : -1.5f) + static_cast<float>(j % 7);
      x[0] = 127.0f;
      x[256] = 127.0f;
    }
    std::vector<BlockQ8_0> a(kCols / 32), b(kCols / 32);
    quantize_q8_0_activations_scalar(x.data(), kCols, a.data());
    quantize_q8_0_activations_avx2(x.data(), kCols, b.data());
    ASSERT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * sizeof(BlockQ8_0))) << iter;
    std::vector<BlockQ8K> c(kCols / 256), d(kCols / 256);
    quantize_q8_k_activations_scalar(x.data(), kCols, c.data());
    quantize_q8_k_activations_avx2(x.data(), kCols, d.data());
    ASSERT_EQ(0, std::memcmp(c.data(), d.data(), c.size() * sizeof(BlockQ8K))) << iter;
  }
}

// Weights and activations chosen so every product and sum is a small integer:
// both paths must then give exactly the double reference.
struct ExactCase {
  std::vector<uint8_t> bytes;
  std::vector<double> w;  // dequantized weights
  WeightMatrix matrix;
};

ExactCase make_exact_weights(TensorType type, int64_t rows, int64_t cols, std::mt19937& rng) {
  ExactCase e;
  const size_t rb = row_bytes(type, cols);
  e.bytes.resize(rb * static_cast<size_t>(rows));
  for (auto& b : e.bytes) b = static_cast<uint8_t>(rng());
  const uint16_t one = fp32_to_fp16(1.0f);
  for (int64_t r = 0; r < rows; ++r) {
    uint8_t* row = e.bytes.data() + r * rb;
    switch (type) {
      case TensorType::kF32:
      case TensorType::kF16:
      case TensorType::kBF16:
        for (int64_t c = 0; c < cols; ++c) {
          const auto v = static_cast<float>(static_cast<int>(rng() % 15) - 7);
          if (type == TensorType::kF32) std::memcpy(row + 4 * c, &v, 4);
          const uint16_t h = type == TensorType::kF16 ? fp32_to_fp16(v) : fp32_to_bf16(v);
          if (type != TensorType::kF32) std::memcpy(row + 2 * c, &h, 2);
        }
        break;
      case TensorType::kQ8_0:
        for (int64_t b = 0; b < cols / 32; ++b) std::memcpy(row + 34 * b, &one, 2);
        break;
      case TensorType::kQ4_0:
        for (int64_t b = 0; b < cols / 32; ++b) std::memcpy(row + 18 * b, &one, 2);
        break;
      case TensorType::kQ4_K:
        for (int64_t b = 0; b < cols / 256; ++b) {
          std::memcpy(row + 144 * b, &one, 2);
          std::memcpy(row + 144 * b + 2, &one, 2);
        }
        break;
      case TensorType::kQ6_K:
        for (int64_t b = 0; b < cols / 256; ++b) {
          uint8_t* block = row + 210 * b;
          for (int s = 0; s < 16; ++s) block[192 + s] = static_cast<uint8_t>(static_cast<int>(rng() % 7) - 3);
          std::memcpy(block + 208, &one, 2);
        }
        break;
      default:
        break;
    }
  }
  e.w.resize(static_cast<size_t>(rows * cols));
  std::vector<float> deq(static_cast<size_t>(cols));
  for (int64_t r = 0; r < rows; ++r) {
    dequantize_row(type, std::span<const uint8_t>(e.bytes.data() + r * rb, rb), deq);
    for (int64_t c = 0; c < cols; ++c) e.w[static_cast<size_t>(r * cols + c)] = deq[static_cast<size_t>(c)];
  }
  e.matrix = WeightMatrix{type, e.bytes.data(), rows, cols, rb};
  return e;
}

TEST(MatmulAvx2Test, WholeMatmulsEqualScalarAndReferenceExactly) {
  SKIP_WITHOUT_AVX2();
  std::mt19937 rng(3);
  ThreadPool pool(2);
  for (TensorType type : {TensorType::kF32, TensorType::kF16, TensorType::kBF16, TensorType::kQ8_0,
                          TensorType::kQ4_0, TensorType::kQ4_K, TensorType::kQ6_K}) {
    for (int64_t n_tokens : {1, 3, 16}) {
      const int64_t rows = 21;
      const int64_t cols = 512;
      const ExactCase e = make_exact_weights(type, rows, cols, rng);
      // Small integer activations with 127 once per 32: every block's
      // activation scale is exactly 1.
      std::vector<float> x(static_cast<size_t>(n_tokens * cols));
      for (size_t i = 0; i < x.size(); ++i) {
        x[i] = i % 32 == 5 ? 127.0f : static_cast<float>(static_cast<int>(rng() % 7) - 3);
      }
      std::vector<float> ys(static_cast<size_t>(n_tokens * rows)), ya(ys.size());
      matmul(e.matrix, x.data(), n_tokens, cols, ys.data(), rows, pool, KernelPath::kScalar);
      matmul(e.matrix, x.data(), n_tokens, cols, ya.data(), rows, pool, KernelPath::kAvx2);
      for (int64_t k = 0; k < n_tokens; ++k) {
        for (int64_t r = 0; r < rows; ++r) {
          double ref = 0.0;
          for (int64_t c = 0; c < cols; ++c) ref += e.w[static_cast<size_t>(r * cols + c)] * x[static_cast<size_t>(k * cols + c)];
          const size_t i = static_cast<size_t>(k * rows + r);
          ASSERT_EQ(ys[i], ref) << tensor_type_name(type) << " token " << k << " row " << r;
          ASSERT_EQ(ya[i], ref) << tensor_type_name(type) << " token " << k << " row " << r;
        }
      }
    }
  }
}

#else

TEST(MatmulAvx2Test, NotBuilt) {
  GTEST_SKIP() << "built for a CPU family without the AVX2 kernels";
}

#endif

}  // namespace
}  // namespace tether::kernels::detail
