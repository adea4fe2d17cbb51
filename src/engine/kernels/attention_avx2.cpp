#include "engine/kernels/attention_avx2.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "engine/kernels/exp_avx2.h"
#include "engine/kernels/quant_blocks.h"

// Functions carry their own target attribute, so this file needs no special
// compiler flags and the rest of the binary stays runnable on any x86-64.
#define TETHER_AVX2 __attribute__((target("avx2,fma,f16c")))

namespace tether::kernels {
namespace {

// Keys are taken 16 at a time, never across a block boundary: a query row's
// scores for them are two vectors.
constexpr int32_t kKeyTile = 16;
// Query rows whose scores are computed together, sharing every key load:
// 4 rows x 2 vectors keep 8 independent FMA chains in flight.
constexpr int32_t kRowGroup = 4;

TETHER_AVX2 inline float horizontal_sum(__m256 v) {
  __m128 lo = _mm256_castps256_ps128(v);
  __m128 hi = _mm256_extractf128_ps(v, 1);
  lo = _mm_add_ps(lo, hi);
  lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
  lo = _mm_add_ss(lo, _mm_movehdup_ps(lo));
  return _mm_cvtss_f32(lo);
}

TETHER_AVX2 inline float horizontal_max(__m256 v) {
  __m128 lo = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  lo = _mm_max_ps(lo, _mm_movehl_ps(lo, lo));
  lo = _mm_max_ss(lo, _mm_movehdup_ps(lo));
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

// Transposes the 8x8 matrix held in r[0..7] (row j = r[j]) in registers.
TETHER_AVX2 inline void transpose8(__m256 r[8]) {
  __m256 t[8];
  for (int j = 0; j < 8; j += 2) {
    t[j] = _mm256_unpacklo_ps(r[j], r[j + 1]);
    t[j + 1] = _mm256_unpackhi_ps(r[j], r[j + 1]);
  }
  __m256 u[8];
  for (int j = 0; j < 8; j += 4) {
    u[j] = _mm256_shuffle_ps(t[j], t[j + 2], 0x44);
    u[j + 1] = _mm256_shuffle_ps(t[j], t[j + 2], 0xEE);
    u[j + 2] = _mm256_shuffle_ps(t[j + 1], t[j + 3], 0x44);
    u[j + 3] = _mm256_shuffle_ps(t[j + 1], t[j + 3], 0xEE);
  }
  for (int j = 0; j < 4; ++j) {
    r[j] = _mm256_permute2f128_ps(u[j], u[j + 4], 0x20);
    r[j + 4] = _mm256_permute2f128_ps(u[j], u[j + 4], 0x31);
  }
}

// Keys of slots [slot, slot + n) of a head run as floats, transposed to
// kt[d * 16 + s] with slots s >= n zero, so that a query's 16 scores are two
// vectors accumulated over d.
TETHER_AVX2 void load_keys(const uint8_t* run, kv::KvType type, int32_t dim, int32_t slot, int32_t n,
                           float* kt) {
  for (int32_t half = 0; half * 8 < kKeyTile; ++half) {
    for (int32_t d = 0; d < dim; d += 8) {
      __m256 r[8];
      for (int32_t j = 0; j < 8; ++j) {
        const int32_t s = half * 8 + j;
        r[j] = s < n ? load8(run, type, static_cast<size_t>(slot + s) * dim + d) : _mm256_setzero_ps();
      }
      transpose8(r);
      for (int32_t j = 0; j < 8; ++j) _mm256_storeu_ps(kt + (d + j) * kKeyTile + half * 8, r[j]);
    }
  }
}

// Values of slots [slot, slot + n) as floats, vf[s * dim + d].
TETHER_AVX2 void load_values(const uint8_t* run, kv::KvType type, int32_t dim, int32_t slot, int32_t n,
                             float* vf) {
  for (int32_t s = 0; s < n; ++s) {
    for (int32_t d = 0; d < dim; d += 8) {
      _mm256_storeu_ps(vf + static_cast<size_t>(s) * dim + d,
                       load8(run, type, static_cast<size_t>(slot + s) * dim + d));
    }
  }
}

// Scores of NR query rows against the 16 keys of kt: out[r * 16 + s].
template <int NR>
TETHER_AVX2 void row_scores(const float* q, int32_t dim, const float* kt, float* out) {
  __m256 lo[NR];
  __m256 hi[NR];
  for (int r = 0; r < NR; ++r) lo[r] = hi[r] = _mm256_setzero_ps();
  for (int32_t d = 0; d < dim; ++d) {
    const __m256 k0 = _mm256_loadu_ps(kt + d * kKeyTile);
    const __m256 k1 = _mm256_loadu_ps(kt + d * kKeyTile + 8);
    for (int r = 0; r < NR; ++r) {
      const __m256 qb = _mm256_broadcast_ss(q + static_cast<size_t>(r) * dim + d);
      lo[r] = _mm256_fmadd_ps(qb, k0, lo[r]);
      hi[r] = _mm256_fmadd_ps(qb, k1, hi[r]);
    }
  }
  for (int r = 0; r < NR; ++r) {
    _mm256_storeu_ps(out + r * kKeyTile, lo[r]);
    _mm256_storeu_ps(out + r * kKeyTile + 8, hi[r]);
  }
}

// acc[0, 8 * NV) = acc * correction + sum over s < n of w[s] * vf[s * dim + ...],
// with the NV accumulator vectors in registers across all n values.
template <int NV>
TETHER_AVX2 void accumulate_chunk(float* acc, const float* vf, int32_t dim, const float* w, int32_t n,
                                  float correction) {
  __m256 a[NV];
  const __m256 c = _mm256_set1_ps(correction);
  for (int v = 0; v < NV; ++v) a[v] = _mm256_mul_ps(_mm256_loadu_ps(acc + 8 * v), c);
  for (int32_t s = 0; s < n; ++s) {
    const __m256 ws = _mm256_set1_ps(w[s]);
    const float* row = vf + static_cast<size_t>(s) * dim;
    for (int v = 0; v < NV; ++v) a[v] = _mm256_fmadd_ps(ws, _mm256_loadu_ps(row + 8 * v), a[v]);
  }
  for (int v = 0; v < NV; ++v) _mm256_storeu_ps(acc + 8 * v, a[v]);
}

TETHER_AVX2 void accumulate_values(float* acc, const float* vf, int32_t dim, const float* w, int32_t n,
                                   float correction) {
  for (int32_t d = 0; d < dim; d += 64) {
    switch (std::min(8, (dim - d) / 8)) {
      case 8: accumulate_chunk<8>(acc + d, vf + d, dim, w, n, correction); break;
      case 7: accumulate_chunk<7>(acc + d, vf + d, dim, w, n, correction); break;
      case 6: accumulate_chunk<6>(acc + d, vf + d, dim, w, n, correction); break;
      case 5: accumulate_chunk<5>(acc + d, vf + d, dim, w, n, correction); break;
      case 4: accumulate_chunk<4>(acc + d, vf + d, dim, w, n, correction); break;
      case 3: accumulate_chunk<3>(acc + d, vf + d, dim, w, n, correction); break;
      case 2: accumulate_chunk<2>(acc + d, vf + d, dim, w, n, correction); break;
      default: accumulate_chunk<1>(acc + d, vf + d, dim, w, n, correction); break;
    }
  }
}

TETHER_AVX2 void scores_for_group(const float* q, int32_t n_rows, int32_t dim, const float* kt, float* out) {
  switch (n_rows) {
    case 4: row_scores<4>(q, dim, kt, out); break;
    case 3: row_scores<3>(q, dim, kt, out); break;
    case 2: row_scores<2>(q, dim, kt, out); break;
    default: row_scores<1>(q, dim, kt, out); break;
  }
}

// Per-row softmax state of one work item, in thread-local memory.
struct RowState {
  float max;
  float sum;
  int32_t limit;  // positions [0, limit) are visible to the row
};

}  // namespace

bool attention_avx2_supports(const kv::KvShape& shape) { return shape.head_dim % 8 == 0; }

TETHER_AVX2 void attention_group_avx2(const AttentionTask& task, const kv::KvBlockStorage& kv,
                                      int32_t kv_head, int32_t token_begin, int32_t token_end) {
  const kv::KvShape& shape = kv.shape();
  const int32_t dim = shape.head_dim;
  const int32_t bt = shape.block_tokens;
  const int32_t group = task.n_heads / shape.n_kv_heads;
  const int32_t n_rows = (token_end - token_begin) * group;
  if (n_rows <= 0) return;

  // Rows are token-major: row r is token token_begin + r / group, query head
  // kv_head * group + r % group, so visible lengths never shrink with r.
  thread_local std::vector<float> scratch;
  thread_local std::vector<RowState> rows;
  const size_t row_floats = static_cast<size_t>(n_rows) * dim;
  const size_t tile_floats = static_cast<size_t>(kKeyTile) * dim;
  const size_t need = 2 * row_floats + 2 * tile_floats + 2 * kRowGroup * kKeyTile;
  if (scratch.size() < need) scratch.resize(need);
  if (rows.size() < static_cast<size_t>(n_rows)) rows.resize(static_cast<size_t>(n_rows));
  float* qs = scratch.data();        // scaled queries, row-major
  float* acc = qs + row_floats;      // unnormalized outputs
  float* kt = acc + row_floats;      // the tile's keys, transposed
  float* vf = kt + tile_floats;      // the tile's values
  float* scores = vf + tile_floats;  // kRowGroup x 16 scores
  float* weights = scores + kRowGroup * kKeyTile;

  const float scale = 1.0f / std::sqrt(static_cast<float>(dim));
  for (int32_t r = 0; r < n_rows; ++r) {
    const int32_t token = token_begin + r / group;
    const int32_t head = kv_head * group + r % group;
    const float* q = task.q + token * task.q_stride + static_cast<int64_t>(head) * dim;
    for (int32_t i = 0; i < dim; ++i) qs[static_cast<size_t>(r) * dim + i] = q[i] * scale;
    rows[r] = {-std::numeric_limits<float>::infinity(), 0.0f, task.start_pos + token + 1};
  }
  std::fill(acc, acc + row_floats, 0.0f);

  const __m256 lanes_lo = _mm256_setr_ps(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256 lanes_hi = _mm256_setr_ps(8, 9, 10, 11, 12, 13, 14, 15);
  const __m256 minus_inf = _mm256_set1_ps(-std::numeric_limits<float>::infinity());
  const int32_t n_ctx = task.start_pos + token_end;  // what the last row sees
  for (int32_t pos = 0; pos < n_ctx;) {
    const int32_t slot = pos % bt;
    const int32_t n = std::min({kKeyTile, bt - slot, n_ctx - pos});
    const kv::BlockId block = task.block_table[pos / bt];
    load_keys(kv.head_run(block, task.layer, false, kv_head), shape.type, dim, slot, n, kt);
    load_values(kv.head_run(block, task.layer, true, kv_head), shape.type, dim, slot, n, vf);
    // Rows of tokens before pos - start_pos see nothing of this tile.
    const int32_t first_token = std::max(0, pos - task.start_pos - token_begin);
    for (int32_t r0 = first_token * group; r0 < n_rows; r0 += kRowGroup) {
      const int32_t nr = std::min(kRowGroup, n_rows - r0);
      scores_for_group(qs + static_cast<size_t>(r0) * dim, nr, dim, kt, scores);
      for (int32_t i = 0; i < nr; ++i) {
        RowState& row = rows[r0 + i];
        const int32_t valid = std::min(n, row.limit - pos);
        const __m256 valid8 = _mm256_set1_ps(static_cast<float>(valid));
        const __m256 keep_lo = _mm256_cmp_ps(lanes_lo, valid8, _CMP_LT_OQ);
        const __m256 keep_hi = _mm256_cmp_ps(lanes_hi, valid8, _CMP_LT_OQ);
        const __m256 s_lo = _mm256_blendv_ps(minus_inf, _mm256_loadu_ps(scores + i * kKeyTile), keep_lo);
        const __m256 s_hi = _mm256_blendv_ps(minus_inf, _mm256_loadu_ps(scores + i * kKeyTile + 8), keep_hi);
        const float new_max = std::max(row.max, horizontal_max(_mm256_max_ps(s_lo, s_hi)));
        // Online softmax: what was accumulated shrinks when the maximum grows.
        const float correction = new_max > row.max ? std::exp(row.max - new_max) : 1.0f;
        const __m256 max8 = _mm256_set1_ps(new_max);
        const __m256 w_lo = _mm256_and_ps(exp8(_mm256_sub_ps(s_lo, max8)), keep_lo);
        const __m256 w_hi = _mm256_and_ps(exp8(_mm256_sub_ps(s_hi, max8)), keep_hi);
        row.sum = row.sum * correction + horizontal_sum(_mm256_add_ps(w_lo, w_hi));
        row.max = new_max;
        _mm256_storeu_ps(weights, w_lo);
        _mm256_storeu_ps(weights + 8, w_hi);
        accumulate_values(acc + static_cast<size_t>(r0 + i) * dim, vf, dim, weights, valid, correction);
      }
    }
    pos += n;
  }

  for (int32_t r = 0; r < n_rows; ++r) {
    const int32_t token = token_begin + r / group;
    const int32_t head = kv_head * group + r % group;
    float* out = task.out + token * task.out_stride + static_cast<int64_t>(head) * dim;
    const float inv_sum = 1.0f / rows[r].sum;
    for (int32_t i = 0; i < dim; ++i) out[i] = acc[static_cast<size_t>(r) * dim + i] * inv_sum;
  }
}

}  // namespace tether::kernels
