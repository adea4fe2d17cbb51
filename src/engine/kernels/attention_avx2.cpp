#include "engine/kernels/attention_avx2.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "engine/kernels/exp_avx2.h"
#include "engine/kernels/fp16.h"
#include "engine/kernels/kv_element.h"
#include "engine/kernels/quant_blocks.h"

// Functions carry their own target attribute, so this file needs no special
// compiler flags and the rest of the binary stays runnable on any x86-64.
#define TETHER_AVX2 __attribute__((target("avx2,fma,f16c")))

namespace tether::kernels {
namespace {

TETHER_AVX2 inline float horizontal_sum(__m256 v) {
  __m128 lo = _mm256_castps256_ps128(v);
  __m128 hi = _mm256_extractf128_ps(v, 1);
  lo = _mm_add_ps(lo, hi);
  lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
  lo = _mm_add_ss(lo, _mm_movehdup_ps(lo));
  return _mm_cvtss_f32(lo);
}

// Elements idx..idx+7 of a head run (idx a multiple of 8, so with Q8_0 the
// 8 values lie in one 32-value block).
TETHER_AVX2 inline __m256 load8(const uint8_t* run, kv::KvType type, size_t idx) {
  switch (type) {
    case kv::KvType::kF16:
      return _mm256_cvtph_ps(
          _mm_loadu_si128(reinterpret_cast<const __m128i*>(reinterpret_cast<const uint16_t*>(run) + idx)));
    case kv::KvType::kQ8_0: {
      const uint8_t* block = run + (idx / kQk8_0) * sizeof(BlockQ8_0);
      uint16_t d;
      std::memcpy(&d, block, 2);
      const __m256i q = _mm256_cvtepi8_epi32(
          _mm_loadl_epi64(reinterpret_cast<const __m128i*>(block + 2 + idx % kQk8_0)));
      return _mm256_mul_ps(_mm256_cvtepi32_ps(q), _mm256_set1_ps(_cvtsh_ss(d)));
    }
    case kv::KvType::kF32:
      break;
  }
  return _mm256_loadu_ps(reinterpret_cast<const float*>(run) + idx);
}

TETHER_AVX2 void head_avx2(const AttentionTask& task, const kv::KvBlockStorage& kv, int32_t head,
                           int32_t token, float* scores, float* acc) {
  const kv::KvShape& shape = kv.shape();
  const kv::KvType type = shape.type;
  const int32_t dim = shape.head_dim;
  const int32_t dim8 = dim & ~7;
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
      const size_t base = static_cast<size_t>(slot) * dim;
      __m256 sum = _mm256_setzero_ps();
      int32_t i = 0;
      for (; i < dim8; i += 8) sum = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), load8(keys, type, base + i), sum);
      float dot = horizontal_sum(sum);
      for (; i < dim; ++i) dot += q[i] * kv_element(keys, type, base + i);
      scores[slot] = dot * scale;
      block_max = std::max(block_max, scores[slot]);
    }
    if (block_max > running_max) {
      const float correction = std::exp(running_max - block_max);
      running_sum *= correction;
      const __m256 c = _mm256_set1_ps(correction);
      int32_t i = 0;
      for (; i < dim8; i += 8) _mm256_storeu_ps(acc + i, _mm256_mul_ps(_mm256_loadu_ps(acc + i), c));
      for (; i < dim; ++i) acc[i] *= correction;
      running_max = block_max;
    }
    // The block's weights e^(score - max), 8 at a time; the tail slots of
    // the last vector are padded with -inf scores and skipped below.
    const int32_t n_padded = (n_slots + 7) & ~7;
    for (int32_t slot = n_slots; slot < n_padded; ++slot) scores[slot] = -std::numeric_limits<float>::infinity();
    const __m256 max8 = _mm256_set1_ps(running_max);
    for (int32_t slot = 0; slot < n_padded; slot += 8) {
      _mm256_storeu_ps(scores + slot, exp8(_mm256_sub_ps(_mm256_loadu_ps(scores + slot), max8)));
    }
    for (int32_t slot = 0; slot < n_slots; ++slot) {
      const float weight = scores[slot];
      running_sum += weight;
      const size_t base = static_cast<size_t>(slot) * dim;
      const __m256 w = _mm256_set1_ps(weight);
      int32_t i = 0;
      for (; i < dim8; i += 8) {
        _mm256_storeu_ps(acc + i, _mm256_fmadd_ps(w, load8(values, type, base + i), _mm256_loadu_ps(acc + i)));
      }
      for (; i < dim; ++i) acc[i] += weight * kv_element(values, type, base + i);
    }
  }
  float* out = task.out + token * task.out_stride + static_cast<int64_t>(head) * dim;
  const float inv_sum = 1.0f / running_sum;
  for (int32_t i = 0; i < dim; ++i) out[i] = acc[i] * inv_sum;
}

}  // namespace

void attention_range_avx2(const AttentionTask& task, const kv::KvBlockStorage& kv,
                          int32_t head_begin, int32_t head_end, int32_t token_begin,
                          int32_t token_end) {
  thread_local std::vector<float> scratch;
  // Scores padded to whole vectors of 8.
  const size_t score_slots = static_cast<size_t>((kv.shape().block_tokens + 7) & ~7);
  const size_t need = score_slots + static_cast<size_t>(kv.shape().head_dim);
  if (scratch.size() < need) scratch.resize(need);
  float* scores = scratch.data();
  float* acc = scores + score_slots;
  for (int32_t token = token_begin; token < token_end; ++token) {
    for (int32_t head = head_begin; head < head_end; ++head) {
      head_avx2(task, kv, head, token, scores, acc);
    }
  }
}

}  // namespace tether::kernels
