#pragma once

#include <cstdint>
#include <span>

#include "engine/kernels/matmul.h"
#include "kv/kv_block_storage.h"

namespace tether::kernels {

// One sequence's causal grouped-query attention for one layer, over keys and
// values read through its block table. Query head h uses KV head
// h / (n_heads / n_kv_heads). Scores are scaled by 1/sqrt(head_dim) and
// normalized with an online (streaming) softmax, so no score buffer grows
// with the context.
struct AttentionTask {
  const float* q = nullptr;      // n_tokens rows, q_stride floats apart, n_heads*head_dim each
  int64_t q_stride = 0;
  float* out = nullptr;          // n_tokens rows, out_stride floats apart, n_heads*head_dim each
  int64_t out_stride = 0;
  int32_t n_tokens = 0;
  int32_t start_pos = 0;         // token t sits at start_pos + t and sees positions <= that
  int32_t n_heads = 0;
  int32_t layer = 0;
  std::span<const kv::BlockId> block_table;  // covers positions [0, start_pos + n_tokens)
};

// Computes query heads [head_begin, head_end) of tokens [token_begin,
// token_end) of `task` on the calling thread. The model splits (sequence,
// head, token) work items of a whole batch over its thread pool with this.
void attention_range(const AttentionTask& task, const kv::KvBlockStorage& kv, int32_t head_begin,
                     int32_t head_end, int32_t token_begin, int32_t token_end, KernelPath path);

// All of `task`, split over the pool's threads by head and token.
void attention(const AttentionTask& task, const kv::KvBlockStorage& kv, ThreadPool& pool,
               KernelPath path = best_kernel_path());

}  // namespace tether::kernels
