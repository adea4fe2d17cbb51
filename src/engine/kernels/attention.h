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

// The work of a task comes in items: one KV head and a tile of consecutive
// tokens, i.e. every query head sharing that KV head for those tokens. The
// keys and values of a KV head are read once per item for all of its query
// rows (the heads of the group times the tile's tokens), which is what makes
// long contexts cheap: the AVX2 kernel turns an item into small matrix
// products over 16 keys at a time. Tiles hold enough tokens to give an item
// about 32 query rows.
int32_t attention_token_tile(const AttentionTask& task, const kv::KvShape& shape);
int64_t attention_items(const AttentionTask& task, const kv::KvShape& shape);

// Computes item `item` (in [0, attention_items)) of `task` on the calling
// thread. The model spreads the items of a whole batch over its thread pool.
void attention_item(const AttentionTask& task, const kv::KvBlockStorage& kv, int64_t item,
                    KernelPath path);

// All of `task`, its items split over the pool's threads. Checks the task
// against the storage first: throws Error(kInvalidArgument) for a head count
// that does not fit the KV heads, or a block table that is too short or
// names blocks outside the storage.
void attention(const AttentionTask& task, const kv::KvBlockStorage& kv, ThreadPool& pool,
               KernelPath path = best_kernel_path());

}  // namespace tether::kernels
