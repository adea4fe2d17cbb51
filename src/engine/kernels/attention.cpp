#include "engine/kernels/attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "common/error.h"
#include "engine/kernels/attention_avx2.h"
#include "engine/kernels/kv_element.h"

namespace tether::kernels {
namespace {

void attention_head_scalar(const AttentionTask& task, const kv::KvBlockStorage& kv, int32_t head,
                           int32_t token, float* scores, float* acc) {
  const kv::KvShape& shape = kv.shape();
  const int32_t dim = shape.head_dim;
  const int32_t bt = shape.block_tokens;
  const int32_t kv_head = head / (task.n_heads / shape.n_kv_heads);
  const float scale = 1.0f / std::sqrt(static_cast<float>(dim));
  const float* q = task.q + token * task.q_stride + static_cast<int64_t>(head) * dim;
  const int32_t n_ctx = task.start_pos + token + 1;

  float running_max = -std::numeric_limits<float>::infinity();
  float running_sum = 0.0f;
  std::fill(acc, acc + dim, 0.0f);
  for (int32_t block_idx = 0; block_idx * bt < n_ctx; ++block_idx) {
    const kv::BlockId block = task.block_table[block_idx];
    const int32_t n_slots = std::min(bt, n_ctx - block_idx * bt);
    const uint8_t* keys = kv.head_run(block, task.layer, false, kv_head);
    const uint8_t* values = kv.head_run(block, task.layer, true, kv_head);
    float block_max = -std::numeric_limits<float>::infinity();
    for (int32_t slot = 0; slot < n_slots; ++slot) {
      float dot = 0.0f;
      const size_t base = static_cast<size_t>(slot) * dim;
      for (int32_t i = 0; i < dim; ++i) dot += q[i] * kv_element(keys, shape.type, base + i);
      scores[slot] = dot * scale;
      block_max = std::max(block_max, scores[slot]);
    }
    // Online softmax: rescale what was accumulated when the maximum grows.
    if (block_max > running_max) {
      const float correction = std::exp(running_max - block_max);
      running_sum *= correction;
      for (int32_t i = 0; i < dim; ++i) acc[i] *= correction;
      running_max = block_max;
    }
    for (int32_t slot = 0; slot < n_slots; ++slot) {
      const float weight = std::exp(scores[slot] - running_max);
      running_sum += weight;
      const size_t base = static_cast<size_t>(slot) * dim;
      for (int32_t i = 0; i < dim; ++i) acc[i] += weight * kv_element(values, shape.type, base + i);
    }
  }
  float* out = task.out + token * task.out_stride + static_cast<int64_t>(head) * dim;
  const float inv_sum = 1.0f / running_sum;
  for (int32_t i = 0; i < dim; ++i) out[i] = acc[i] * inv_sum;
}

}  // namespace

int32_t attention_token_tile(const AttentionTask& task, const kv::KvShape& shape) {
  constexpr int32_t kRowsPerItem = 32;
  const int32_t group = std::max(1, task.n_heads / std::max(1, shape.n_kv_heads));
  return std::max(1, kRowsPerItem / group);
}

int64_t attention_items(const AttentionTask& task, const kv::KvShape& shape) {
  const int32_t tile = attention_token_tile(task, shape);
  return static_cast<int64_t>(shape.n_kv_heads) * ((task.n_tokens + tile - 1) / tile);
}

void attention_item(const AttentionTask& task, const kv::KvBlockStorage& kv, int64_t item,
                    KernelPath path) {
  const kv::KvShape& shape = kv.shape();
  const int32_t tile = attention_token_tile(task, shape);
  const int32_t kv_head = static_cast<int32_t>(item % shape.n_kv_heads);
  const int32_t token_begin = static_cast<int32_t>(item / shape.n_kv_heads) * tile;
  const int32_t token_end = std::min(task.n_tokens, token_begin + tile);
  if (path == KernelPath::kAvx2 && attention_avx2_supports(shape)) {
    attention_group_avx2(task, kv, kv_head, token_begin, token_end);
    return;
  }
  // Per-thread scratch that grows once, so steady-state decoding does not allocate.
  thread_local std::vector<float> scratch;
  const size_t need = static_cast<size_t>(shape.block_tokens + shape.head_dim);
  if (scratch.size() < need) scratch.resize(need);
  float* scores = scratch.data();
  float* acc = scores + shape.block_tokens;
  const int32_t group = task.n_heads / shape.n_kv_heads;
  for (int32_t token = token_begin; token < token_end; ++token) {
    for (int32_t head = kv_head * group; head < (kv_head + 1) * group; ++head) {
      attention_head_scalar(task, kv, head, token, scores, acc);
    }
  }
}

void attention(const AttentionTask& task, const kv::KvBlockStorage& kv, ThreadPool& pool,
               KernelPath path) {
  const kv::KvShape& shape = kv.shape();
  if (task.n_heads <= 0 || task.n_heads % shape.n_kv_heads != 0 || task.n_tokens < 0 ||
      task.start_pos < 0) {
    throw_error(ErrorCode::kInvalidArgument, "attention: {} heads do not fit {} KV heads",
                task.n_heads, shape.n_kv_heads);
  }
  const int64_t needed_blocks =
      (static_cast<int64_t>(task.start_pos) + task.n_tokens + shape.block_tokens - 1) /
      shape.block_tokens;
  if (static_cast<int64_t>(task.block_table.size()) < needed_blocks) {
    throw_error(ErrorCode::kInvalidArgument,
                "attention: block table of {} blocks cannot hold {} positions", task.block_table.size(),
                task.start_pos + task.n_tokens);
  }
  for (int64_t i = 0; i < needed_blocks; ++i) kv.check_block(task.block_table[i]);
  pool.parallel_for(attention_items(task, shape), 1, [&](int64_t begin, int64_t end, int) {
    for (int64_t item = begin; item < end; ++item) attention_item(task, kv, item, path);
  });
}

}  // namespace tether::kernels
