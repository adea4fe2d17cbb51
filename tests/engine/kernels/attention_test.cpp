#include "engine/kernels/attention.h"

#include <gtest/gtest.h>

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
