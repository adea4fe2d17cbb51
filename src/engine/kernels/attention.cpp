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

void attention_range(const AttentionTask& task, const kv::KvBlockStorage& kv, int32_t head_begin,
                     int32_t head_end, int32_t token_begin, int32_t token_end, KernelPath path) {
  if (path == KernelPath::kAvx2) {
    attention_range_avx2(task, kv, head_begin, head_end, token_begin, token_end);
    return;
  }
  // Per-thread scratch that grows once, so steady-state decoding does not allocate.
  thread_local std::vector<float> scratch;
  const size_t need = static_cast<size_t>(kv.shape().block_tokens + kv.shape().head_dim);
  if (scratch.size() < need) scratch.resize(need);
  float* scores = scratch.data();
  float* acc = scores + kv.shape().block_tokens;
  for (int32_t token = token_begin; token < token_end; ++token) {
    for (int32_t head = head_begin; head < head_end; ++head) {
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
  const int64_t n_items = static_cast<int64_t>(task.n_tokens) * task.n_heads;
  pool.parallel_for(n_items, 1, [&](int64_t begin, int64_t end, int) {
    for (int64_t item = begin; item < end; ++item) {
      const int32_t token = static_cast<int32_t>(item / task.n_heads);
      const int32_t head = static_cast<int32_t>(item % task.n_heads);
      attention_range(task, kv, head, head + 1, token, token + 1, path);
    }
  });
}

}  // namespace tether::kernels
