#include "engine/kernels/attention.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "common/error.h"

namespace tether::kernels {
namespace {

// Naive attention in double over the same K/V (read back from storage, so
// the F16 rounding is shared and only the kernel's arithmetic is compared).
std::vector<double> naive(const std::vector<float>& q, int n_tokens, int start_pos, int n_heads,
                          const kv::KvBlockStorage& kv, int layer,
                          const std::vector<kv::BlockId>& table) {
  const auto& s = kv.shape();
  const int dim = s.head_dim, kv_dim = s.n_kv_heads * dim, group = n_heads / s.n_kv_heads;
  std::vector<std::vector<float>> keys, vals;
  for (int p = 0; p < start_pos + n_tokens; ++p) {
    std::vector<float> k(kv_dim), v(kv_dim);
    kv.read(table[p / s.block_tokens], p % s.block_tokens, layer, k.data(), v.data());
    keys.push_back(k);
    vals.push_back(v);
  }
  std::vector<double> out(static_cast<size_t>(n_tokens) * n_heads * dim, 0.0);
  for (int t = 0; t < n_tokens; ++t) {
    for (int h = 0; h < n_heads; ++h) {
      const int g = h / group, n_ctx = start_pos + t + 1;
      std::vector<double> w(n_ctx);
      double mx = -1e300, sum = 0;
      for (int p = 0; p < n_ctx; ++p) {
        double d = 0;
        for (int i = 0; i < dim; ++i) d += double(q[(t * n_heads + h) * dim + i]) * keys[p][g * dim + i];
        w[p] = d / std::sqrt(double(dim));
        mx = std::max(mx, w[p]);
      }
      for (auto& x : w) sum += (x = std::exp(x - mx));
      for (int p = 0; p < n_ctx; ++p) {
        for (int i = 0; i < dim; ++i) out[(t * n_heads + h) * dim + i] += w[p] / sum * vals[p][g * dim + i];
      }
    }
  }
  return out;
}

TEST(Attention, MatchesNaiveSoftmaxThroughShuffledBlockTable) {
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (kv::KvType type : {kv::KvType::kF32, kv::KvType::kF16, kv::KvType::kQ8_0}) {
    for (int dim : {64, 12}) {  // 12: exercises the non-multiple-of-8 tail
      if (type == kv::KvType::kQ8_0 && dim % 32 != 0) continue;  // Q8_0 needs whole blocks
      const int n_heads = 6, n_kv_heads = 2, block_tokens = 5, layer = 1;
      const int start_pos = 17, n_tokens = 4, total = start_pos + n_tokens;
      kv::KvBlockStorage kv({2, n_kv_heads, dim, block_tokens, type}, 9);
      const std::vector<kv::BlockId> table = {kv::BlockId{7}, kv::BlockId{2}, kv::BlockId{8},
                                              kv::BlockId{0}, kv::BlockId{5}};
      for (int p = 0; p < total; ++p) {
        std::vector<float> k(n_kv_heads * dim), v(n_kv_heads * dim);
        for (auto& x : k) x = 2.0f * normal(rng);  // peaky scores test the online max
        for (auto& x : v) x = normal(rng);
        kv.write(table[p / block_tokens], p % block_tokens, layer, k.data(), v.data());
      }
      std::vector<float> q(n_tokens * n_heads * dim);
      for (auto& x : q) x = normal(rng);
      const auto expected = naive(q, n_tokens, start_pos, n_heads, kv, layer, table);
      for (KernelPath path : {KernelPath::kScalar, best_kernel_path()}) {
        std::vector<float> out(q.size(), -1.0f);
        AttentionTask task{q.data(), n_heads * dim, out.data(), n_heads * dim, n_tokens,
                           start_pos, n_heads, layer, table};
        ThreadPool pool(2);
        attention(task, kv, pool, path);
        for (size_t i = 0; i < out.size(); ++i) {
          ASSERT_NEAR(out[i], expected[i], 1e-5) << "dim " << dim << " index " << i;
        }
      }
    }
  }
}

// The AVX2 kernel works on tiles of tokens and 16 keys that never cross a
// block: long contexts, block sizes above, below and not dividing 16, one
// token (decode) and many (prefill whose tiles end mid-group), and group
// sizes 1, 4 and 7 (rows per score group 4, 4 and 4+3).
TEST(Attention, TiledKernelMatchesNaiveAcrossShapes) {
  struct Shape {
    int n_heads, n_kv_heads, dim, block_tokens, start_pos, n_tokens;
    kv::KvType type;
  };
  const Shape shapes[] = {
      {14, 2, 64, 16, 300, 1, kv::KvType::kF16},  {14, 2, 64, 16, 0, 37, kv::KvType::kF16},
      {14, 2, 64, 16, 130, 19, kv::KvType::kF16}, {8, 2, 32, 7, 45, 11, kv::KvType::kF32},
      {4, 4, 16, 40, 70, 9, kv::KvType::kF32},    {8, 1, 128, 16, 200, 5, kv::KvType::kQ8_0},
      {6, 3, 80, 3, 25, 2, kv::KvType::kF16},
  };
  std::mt19937 rng(11);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (const Shape& sh : shapes) {
    const int total = sh.start_pos + sh.n_tokens;
    const int n_blocks = (total + sh.block_tokens - 1) / sh.block_tokens;
    kv::KvBlockStorage kv({1, sh.n_kv_heads, sh.dim, sh.block_tokens, sh.type}, n_blocks + 3);
    std::vector<kv::BlockId> table;
    for (int b = 0; b < n_blocks; ++b) table.push_back(kv::BlockId{(b * 5 + 2) % (n_blocks + 3)});
    for (int p = 0; p < total; ++p) {
      std::vector<float> k(sh.n_kv_heads * sh.dim), v(sh.n_kv_heads * sh.dim);
      for (auto& x : k) x = 1.5f * normal(rng);
      for (auto& x : v) x = normal(rng);
      kv.write(table[p / sh.block_tokens], p % sh.block_tokens, 0, k.data(), v.data());
    }
    // Queries laid out with a wider stride than the heads need.
    const int q_stride = sh.n_heads * sh.dim + 8;
    std::vector<float> q(static_cast<size_t>(sh.n_tokens) * q_stride);
    for (auto& x : q) x = normal(rng);
    std::vector<float> dense(static_cast<size_t>(sh.n_tokens) * sh.n_heads * sh.dim);
    for (int t = 0; t < sh.n_tokens; ++t) {
      std::copy_n(q.begin() + t * q_stride, sh.n_heads * sh.dim, dense.begin() + t * sh.n_heads * sh.dim);
    }
    const auto expected = naive(dense, sh.n_tokens, sh.start_pos, sh.n_heads, kv, 0, table);
    for (KernelPath path : {KernelPath::kScalar, best_kernel_path()}) {
      std::vector<float> out(dense.size(), -1.0f);
      AttentionTask task{q.data(), q_stride, out.data(), sh.n_heads * sh.dim, sh.n_tokens,
                         sh.start_pos, sh.n_heads, 0, table};
      ThreadPool pool(2);
      attention(task, kv, pool, path);
      for (size_t i = 0; i < out.size(); ++i) {
        ASSERT_NEAR(out[i], expected[i], 2e-5)
            << "heads " << sh.n_heads << "/" << sh.n_kv_heads << " dim " << sh.dim << " block "
            << sh.block_tokens << " tokens " << sh.n_tokens << " index " << i;
      }
    }
  }
}

TEST(Attention, RejectsShortBlockTables) {
  kv::KvBlockStorage kv({1, 1, 8, 4, kv::KvType::kF32}, 2);
  std::vector<float> q(8), out(8);
  const std::vector<kv::BlockId> table = {kv::BlockId{0}};
  AttentionTask task{q.data(), 8, out.data(), 8, 1, 4, 1, 0, table};
  ThreadPool pool(1);
  EXPECT_THROW(attention(task, kv, pool), Error);
  const std::vector<kv::BlockId> outside = {kv::BlockId{0}, kv::BlockId{3}};
  task.block_table = outside;
  EXPECT_THROW(attention(task, kv, pool), Error);
}

}  // namespace
}  // namespace tether::kernels
