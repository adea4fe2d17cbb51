// AVX2/FMA/F16C matmul kernels. This file alone is compiled with -mavx2 -mfma
// -mf16c (see CMakeLists.txt); matmul.cpp calls into it only after checking
// the CPU. Every output element is produced by one accumulator per (row,
// token) pair, updated in the same order whatever the tile shape, so tiling,
// thread count and batch composition never change a result's bits.
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "engine/kernels/fp16.h"
#include "engine/kernels/interleave.h"
#include "engine/kernels/matmul_internal.h"

// The R x T tile loops must be fully unrolled so the accumulators live in
// registers; GCC at -O2 keeps them in memory otherwise.
#define TETHER_UNROLL _Pragma("GCC unroll 16")

namespace tether::kernels::detail {
namespace {

// Lanes combined as ((l0+l4)+(l2+l6)) + ((l1+l5)+(l3+l7)), the order the
// scalar kernels use.
inline float hsum(__m256 v) {
  const __m128 quad = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 pair = _mm_add_ps(quad, _mm_movehl_ps(quad, quad));
  return _mm_cvtss_f32(_mm_add_ss(pair, _mm_movehdup_ps(pair)));
}

inline int32_t hsum_i32(__m256i v) {
  const __m128i quad = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  const __m128i pair = _mm_add_epi32(quad, _mm_unpackhi_epi64(quad, quad));
  return _mm_cvtsi128_si32(_mm_add_epi32(pair, _mm_shuffle_epi32(pair, 1)));
}

inline float half_to_float(uint16_t h) { return _cvtsh_ss(h); }

// Runs Kernel::tile<R, T>(task, row, token, n_cols...) over rows [r0, r1) and
// all tokens: whole R x T tiles first, then single rows / single tokens.
// Tokens go in chunks so a chunk's activations stay in L2 while the rows'
// weights stream past them.
template <class Kernel, int R, int T>
void run_tiles(const MatmulTask& t, int64_t r0, int64_t r1) {
  const int64_t chunk = std::max<int64_t>(T, Kernel::token_chunk(t) / T * T);
  for (int64_t k0 = 0; k0 < t.n_tokens; k0 += chunk) {
    const int64_t k1 = std::min(t.n_tokens, k0 + chunk);
    int64_t r = r0;
    for (; r + R <= r1; r += R) {
      int64_t k = k0;
      for (; k + T <= k1; k += T) Kernel::template tile<R, T>(t, r, k);
      for (; k < k1; ++k) Kernel::template tile<R, 1>(t, r, k);
    }
    for (; r < r1; ++r) {
      int64_t k = k0;
      for (; k + T <= k1; k += T) Kernel::template tile<1, T>(t, r, k);
      for (; k < k1; ++k) Kernel::template tile<1, 1>(t, r, k);
    }
  }
}

template <class Kernel, int DecodeRows, int R, int T>
void run_kernel(const MatmulTask& t, int64_t r0, int64_t r1) {
  if (t.n_tokens == 1) {
    run_tiles<Kernel, DecodeRows, 1>(t, r0, r1);
  } else {
    run_tiles<Kernel, R, T>(t, r0, r1);
  }
}

inline const uint8_t* row_ptr(const MatmulTask& t, int64_t r) {
  return t.w->data + static_cast<size_t>(r) * t.w->row_bytes;
}

// Decode streams weights from memory once, so the kernels prefetch ahead of
// the rows they read: within the row for long rows, and the same position of
// the next tile's rows when rows are short (a tile of short rows is one
// contiguous run of memory, which the hardware prefetcher alone follows
// poorly across R interleaved streams).
inline size_t prefetch_offset(const MatmulTask& t, int rows_per_tile) {
  constexpr size_t kAhead = 512;
  const size_t next_tile = t.w->row_bytes * static_cast<size_t>(rows_per_tile);
  return t.w->row_bytes < 4 * kAhead ? next_tile : kAhead;
}

// --- float weights -------------------------------------------------------

struct LoadF32 {
  static constexpr int kBytes = 4;
  static __m256 load8(const uint8_t* p) { return _mm256_loadu_ps(reinterpret_cast<const float*>(p)); }
  static float load1(const uint8_t* p) {
    float v;
    std::memcpy(&v, p, 4);
    return v;
  }
};

struct LoadF16 {
  static constexpr int kBytes = 2;
  static __m256 load8(const uint8_t* p) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  }
  static float load1(const uint8_t* p) {
    uint16_t h;
    std::memcpy(&h, p, 2);
    return fp16_to_fp32(h);
  }
};

struct LoadBF16 {
  static constexpr int kBytes = 2;
  static __m256 load8(const uint8_t* p) {
    const __m256i wide = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(wide, 16));
  }
  static float load1(const uint8_t* p) {
    uint16_t h;
    std::memcpy(&h, p, 2);
    return bf16_to_fp32(h);
  }
};

template <class Load>
struct FloatKernel {
  static int64_t token_chunk(const MatmulTask& t) {
    return std::max<int64_t>(1, (256 * 1024) / (t.w->cols * 4 + 1));
  }

  template <int R, int T>
  static void tile(const MatmulTask& t, int64_t r, int64_t k) {
    const int64_t cols = t.w->cols;
    const uint8_t* w[R];
    TETHER_UNROLL
    for (int i = 0; i < R; ++i) w[i] = row_ptr(t, r + i);
    const float* x[T];
    TETHER_UNROLL
    for (int j = 0; j < T; ++j) x[j] = t.x + (k + j) * t.x_stride;
    __m256 acc[R][T];
    TETHER_UNROLL
    for (int i = 0; i < R; ++i)
      TETHER_UNROLL
      for (int j = 0; j < T; ++j) acc[i][j] = _mm256_setzero_ps();
    const size_t pf = prefetch_offset(t, R);
    int64_t c = 0;
    for (; c + 8 <= cols; c += 8) {
      __m256 wv[R];
      TETHER_UNROLL
      for (int i = 0; i < R; ++i) {
        if (T == 1 && c % (64 / Load::kBytes) == 0) {
          _mm_prefetch(reinterpret_cast<const char*>(w[i] + c * Load::kBytes + pf), _MM_HINT_T0);
        }
        wv[i] = Load::load8(w[i] + c * Load::kBytes);
      }
      TETHER_UNROLL
      for (int j = 0; j < T; ++j) {
        const __m256 xv = _mm256_loadu_ps(x[j] + c);
        TETHER_UNROLL
        for (int i = 0; i < R; ++i) acc[i][j] = _mm256_fmadd_ps(wv[i], xv, acc[i][j]);
      }
    }
    TETHER_UNROLL
    for (int i = 0; i < R; ++i) {
      TETHER_UNROLL
      for (int j = 0; j < T; ++j) {
        // The scalar kernel's lane l holds columns = l (mod 8); the tail
        // columns join their lanes before the lanes are combined.
        alignas(32) float lanes[8];
        _mm256_store_ps(lanes, acc[i][j]);
        for (int64_t cc = c; cc < cols; ++cc) {
          lanes[cc & 7] += Load::load1(w[i] + cc * Load::kBytes) * x[j][cc];
        }
        t.y[(k + j) * t.y_stride + r + i] = hsum(_mm256_load_ps(lanes));
      }
    }
  }
};

// --- Q8_0 / Q4_0 weights x Q8_0 activations -----------------------------

// The signed int8 dot product of 32 pairs as 8 int32 lane sums: maddubs
// needs an unsigned operand, so take |w| and move w's sign onto x.
inline __m256i dot_i8_lanes(__m256i w, __m256i x) {
  const __m256i aw = _mm256_sign_epi8(w, w);
  const __m256i sx = _mm256_sign_epi8(x, w);
  const __m256i pairs = _mm256_maddubs_epi16(aw, sx);
  return _mm256_madd_epi16(pairs, _mm256_set1_epi16(1));
}

struct UnpackQ8_0 {
  using Block = BlockQ8_0;
  static constexpr bool kOffsetBy8 = false;
  static __m256i quants(const uint8_t* p) {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + offsetof(BlockQ8_0, qs)));
  }
};

// Q4_0 quants stay unsigned nibbles (0..15), which maddubs takes directly;
// the kernel subtracts 8 * (pair sums of x) instead of shifting every nibble
// by -8 and fixing signs.
struct UnpackQ4_0 {
  using Block = BlockQ4_0;
  static constexpr bool kOffsetBy8 = true;
  static __m256i quants(const uint8_t* p) {
    const __m128i packed = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + offsetof(BlockQ4_0, qs)));
    const __m128i mask = _mm_set1_epi8(0x0f);
    const __m128i lo = _mm_and_si128(packed, mask);
    const __m128i hi = _mm_and_si128(_mm_srli_epi16(packed, 4), mask);
    return _mm256_set_m128i(hi, lo);
  }
};

// Lane sums of (q - 8) * x for unsigned nibbles q, given offset8 =
// offset_lanes(x).
inline __m256i offset_lanes(__m256i x) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(8), x), _mm256_set1_epi16(1));
}
inline __m256i dot_u4_lanes(__m256i q, __m256i x, __m256i offset8) {
  return _mm256_sub_epi32(_mm256_madd_epi16(_mm256_maddubs_epi16(q, x), _mm256_set1_epi16(1)), offset8);
}

template <class Unpack>
struct Q8Kernel {
  using WBlock = typename Unpack::Block;

  static int64_t token_chunk(const MatmulTask& t) {
    return std::max<int64_t>(1, (256 * 1024) / static_cast<int64_t>(t.xq_stride + 1));
  }

  template <int R, int T>
  static void tile(const MatmulTask& t, int64_t r, int64_t k) {
    const int64_t n_blocks = t.w->cols / kQk8_0;
    const uint8_t* w[R];
    TETHER_UNROLL
    for (int i = 0; i < R; ++i) w[i] = row_ptr(t, r + i);
    const BlockQ8_0* x[T];
    TETHER_UNROLL
    for (int j = 0; j < T; ++j) {
      x[j] = reinterpret_cast<const BlockQ8_0*>(t.xq + static_cast<size_t>(k + j) * t.xq_stride);
    }
    __m256 acc[R][T];
    TETHER_UNROLL
    for (int i = 0; i < R; ++i)
      TETHER_UNROLL
      for (int j = 0; j < T; ++j) acc[i][j] = _mm256_setzero_ps();
    const size_t pf = prefetch_offset(t, R);
    for (int64_t b = 0; b < n_blocks; ++b) {
      __m256i wq[R];
      __m256 wd[R];
      TETHER_UNROLL
      for (int i = 0; i < R; ++i) {
        const uint8_t* p = w[i] + b * sizeof(WBlock);
        if (T == 1) _mm_prefetch(reinterpret_cast<const char*>(p + pf), _MM_HINT_T0);
        uint16_t d;
        std::memcpy(&d, p, 2);
        wd[i] = _mm256_set1_ps(half_to_float(d));
        wq[i] = Unpack::quants(p);
      }
      TETHER_UNROLL
      for (int j = 0; j < T; ++j) {
        const __m256i xq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[j][b].qs));
        const __m256 xd = _mm256_set1_ps(half_to_float(x[j][b].d));
        __m256i offset8 = _mm256_setzero_si256();
        if constexpr (Unpack::kOffsetBy8) offset8 = offset_lanes(xq);
        TETHER_UNROLL
        for (int i = 0; i < R; ++i) {
          __m256i lanes;
          if constexpr (Unpack::kOffsetBy8) {
            lanes = dot_u4_lanes(wq[i], xq, offset8);
          } else {
            lanes = dot_i8_lanes(wq[i], xq);
          }
          const __m256 dot = _mm256_cvtepi32_ps(lanes);
          acc[i][j] = _mm256_fmadd_ps(dot, _mm256_mul_ps(wd[i], xd), acc[i][j]);
        }
      }
    }
    TETHER_UNROLL
    for (int i = 0; i < R; ++i)
      TETHER_UNROLL
      for (int j = 0; j < T; ++j) t.y[(k + j) * t.y_stride + r + i] = hsum(acc[i][j]);
  }
};

// --- Q4_K weights x Q8_K activations -------------------------------------

// sum over the 8 sub-blocks of min[s] * (bsums[2s] + bsums[2s+1]).
inline int32_t q4_k_min_term(const uint8_t* mins8, const BlockQ8K& x) {
  const __m256i bsums = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.bsums));
  // Each min applies to two consecutive 16-element group sums.
  const __m128i m8 = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(mins8));
  const __m128i m8x2 = _mm_unpacklo_epi8(m8, m8);
  const __m256i m16 = _mm256_cvtepu8_epi16(m8x2);
  return hsum_i32(_mm256_madd_epi16(bsums, m16));
}

// All 8 scales and mins of a Q4_K block at once, four bytes per word:
// scales 0-3 / mins 0-3 are the low 6 bits of bytes 0-3 / 4-7; scales 4-7 /
// mins 4-7 take their low 4 bits from the low / high nibbles of bytes 8-11
// and their top 2 bits from bits 6-7 of bytes 0-3 / 4-7.
inline void unpack_q4_k_scales_mins(const uint8_t* packed, uint8_t* scales, uint8_t* mins) {
  uint32_t a, b, c;
  std::memcpy(&a, packed, 4);
  std::memcpy(&b, packed + 4, 4);
  std::memcpy(&c, packed + 8, 4);
  constexpr uint32_t kLow6 = 0x3f3f3f3f;
  constexpr uint32_t kLow4 = 0x0f0f0f0f;
  constexpr uint32_t kTop2 = 0x03030303;
  const uint32_t scales_lo = a & kLow6;
  const uint32_t scales_hi = (c & kLow4) | (((a >> 6) & kTop2) << 4);
  const uint32_t mins_lo = b & kLow6;
  const uint32_t mins_hi = ((c >> 4) & kLow4) | (((b >> 6) & kTop2) << 4);
  std::memcpy(scales, &scales_lo, 4);
  std::memcpy(scales + 4, &scales_hi, 4);
  std::memcpy(mins, &mins_lo, 4);
  std::memcpy(mins + 4, &mins_hi, 4);
}

struct Q4KKernel {
  static int64_t token_chunk(const MatmulTask& t) {
    return std::max<int64_t>(1, (256 * 1024) / static_cast<int64_t>(t.xq_stride + 1));
  }

  template <int R, int T>
  static void tile(const MatmulTask& t, int64_t r, int64_t k) {
    const int64_t n_blocks = t.w->cols / kQkK;
    const uint8_t* w[R];
    TETHER_UNROLL
    for (int i = 0; i < R; ++i) w[i] = row_ptr(t, r + i);
    const BlockQ8K* x[T];
    TETHER_UNROLL
    for (int j = 0; j < T; ++j) {
      x[j] = reinterpret_cast<const BlockQ8K*>(t.xq + static_cast<size_t>(k + j) * t.xq_stride);
    }
    __m256 acc[R][T];
    __m256 min_acc[R][T];
    TETHER_UNROLL
    for (int i = 0; i < R; ++i)
      TETHER_UNROLL
      for (int j = 0; j < T; ++j) {
        acc[i][j] = _mm256_setzero_ps();
        min_acc[i][j] = _mm256_setzero_ps();
      }
    const __m256i mask = _mm256_set1_epi8(0x0f);
    const size_t pf = prefetch_offset(t, R);
    for (int64_t b = 0; b < n_blocks; ++b) {
      __m256i isum[R][T];
      float d[R];
      float dmin[R];
      alignas(16) int16_t scales[R][8];
      __m256i mins16[R];  // each min twice: it covers two 16-value group sums
      TETHER_UNROLL
      for (int i = 0; i < R; ++i) {
        const uint8_t* p = w[i] + b * sizeof(BlockQ4_K);
        if (T == 1) {
          _mm_prefetch(reinterpret_cast<const char*>(p + pf), _MM_HINT_T0);
          _mm_prefetch(reinterpret_cast<const char*>(p + pf + 64), _MM_HINT_T0);
          _mm_prefetch(reinterpret_cast<const char*>(p + pf + 128), _MM_HINT_T0);
        }
        uint16_t hd, hmin;
        std::memcpy(&hd, p, 2);
        std::memcpy(&hmin, p + 2, 2);
        d[i] = half_to_float(hd);
        dmin[i] = half_to_float(hmin);
        TETHER_UNROLL
        for (int j = 0; j < T; ++j) isum[i][j] = _mm256_setzero_si256();
        uint8_t scale8[8];
        uint8_t min8[8];
        unpack_q4_k_scales_mins(p + offsetof(BlockQ4_K, scales), scale8, min8);
        _mm_store_si128(reinterpret_cast<__m128i*>(scales[i]),
                        _mm_cvtepu8_epi16(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(scale8))));
        const __m128i m8 = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(min8));
        mins16[i] = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(m8, m8));
      }
      TETHER_UNROLL
      for (int c = 0; c < 4; ++c) {
        __m256i lo[R], hi[R];
        TETHER_UNROLL
        for (int i = 0; i < R; ++i) {
          const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(
              w[i] + b * sizeof(BlockQ4_K) + offsetof(BlockQ4_K, qs) + 32 * c));
          lo[i] = _mm256_and_si256(q, mask);
          hi[i] = _mm256_and_si256(_mm256_srli_epi16(q, 4), mask);
        }
        TETHER_UNROLL
        for (int j = 0; j < T; ++j) {
          const __m256i x_lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[j][b].qs + 64 * c));
          const __m256i x_hi = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[j][b].qs + 64 * c + 32));
          TETHER_UNROLL
          for (int i = 0; i < R; ++i) {
            const __m256i p_lo = _mm256_madd_epi16(_mm256_maddubs_epi16(lo[i], x_lo),
                                                   _mm256_set1_epi16(scales[i][2 * c]));
            const __m256i p_hi = _mm256_madd_epi16(_mm256_maddubs_epi16(hi[i], x_hi),
                                                   _mm256_set1_epi16(scales[i][2 * c + 1]));
            isum[i][j] = _mm256_add_epi32(isum[i][j], _mm256_add_epi32(p_lo, p_hi));
          }
        }
      }
      TETHER_UNROLL
      for (int j = 0; j < T; ++j) {
        const __m256i bsums = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[j][b].bsums));
        TETHER_UNROLL
        for (int i = 0; i < R; ++i) {
          acc[i][j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[i][j]), _mm256_set1_ps(d[i] * x[j][b].d),
                                      acc[i][j]);
          min_acc[i][j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_madd_epi16(bsums, mins16[i])),
                                          _mm256_set1_ps(dmin[i] * x[j][b].d), min_acc[i][j]);
        }
      }
    }
    TETHER_UNROLL
    for (int i = 0; i < R; ++i)
      TETHER_UNROLL
      for (int j = 0; j < T; ++j) {
        t.y[(k + j) * t.y_stride + r + i] = hsum(acc[i][j]) - hsum(min_acc[i][j]);
      }
  }
};

// --- Q6_K weights x Q8_K activations -------------------------------------

struct Q6KKernel {
  static int64_t token_chunk(const MatmulTask& t) {
    return std::max<int64_t>(1, (256 * 1024) / static_cast<int64_t>(t.xq_stride + 1));
  }

  // Quants (0..63) of elements 128h + 32v .. 128h + 32v + 31 of a block.
  static __m256i unpack(const uint8_t* block, int h, int v) {
    const __m256i low = _mm256_loadu_si256(
        reinterpret_cast<const __m256i*>(block + offsetof(BlockQ6_K, ql) + 64 * h + 32 * (v & 1)));
    const __m256i high = _mm256_loadu_si256(
        reinterpret_cast<const __m256i*>(block + offsetof(BlockQ6_K, qh) + 32 * h));
    const __m256i m4 = _mm256_set1_epi8(0x0f);
    const __m256i m2 = _mm256_set1_epi8(0x30);
    const __m256i nibble = v < 2 ? _mm256_and_si256(low, m4)
                                 : _mm256_and_si256(_mm256_srli_epi16(low, 4), m4);
    __m256i top;  // bits 2v, 2v+1 of qh moved to bits 4-5
    switch (v) {
      case 0: top = _mm256_slli_epi16(high, 4); break;
      case 1: top = _mm256_slli_epi16(high, 2); break;
      case 2: top = high; break;
      default: top = _mm256_srli_epi16(high, 2); break;
    }
    return _mm256_or_si256(nibble, _mm256_and_si256(top, m2));
  }

  // From the 16 scales as int16 (sub-blocks 0-7 in the low lane, 8-15 in
  // the high lane): scale 8h + 2v in every low-lane slot and 8h + 2v + 1 in
  // every high-lane slot, to multiply vector v of half h.
  static __m256i pair_scales(__m256i sc16, int h, int v) {
    const __m256i half = h == 0 ? _mm256_permute2x128_si256(sc16, sc16, 0x00)
                                : _mm256_permute2x128_si256(sc16, sc16, 0x11);
    const char lo0 = static_cast<char>(4 * v), lo1 = static_cast<char>(4 * v + 1);
    const char hi0 = static_cast<char>(4 * v + 2), hi1 = static_cast<char>(4 * v + 3);
    const __m256i control = _mm256_setr_epi8(
        lo0, lo1, lo0, lo1, lo0, lo1, lo0, lo1, lo0, lo1, lo0, lo1, lo0, lo1, lo0, lo1,
        hi0, hi1, hi0, hi1, hi0, hi1, hi0, hi1, hi0, hi1, hi0, hi1, hi0, hi1, hi0, hi1);
    return _mm256_shuffle_epi8(half, control);
  }

  template <int R, int T>
  static void tile(const MatmulTask& t, int64_t r, int64_t k) {
    const int64_t n_blocks = t.w->cols / kQkK;
    const uint8_t* w[R];
    TETHER_UNROLL
    for (int i = 0; i < R; ++i) w[i] = row_ptr(t, r + i);
    const BlockQ8K* x[T];
    TETHER_UNROLL
    for (int j = 0; j < T; ++j) {
      x[j] = reinterpret_cast<const BlockQ8K*>(t.xq + static_cast<size_t>(k + j) * t.xq_stride);
    }
    __m256 acc[R][T];
    TETHER_UNROLL
    for (int i = 0; i < R; ++i)
      TETHER_UNROLL
      for (int j = 0; j < T; ++j) acc[i][j] = _mm256_setzero_ps();
    const size_t pf = prefetch_offset(t, R);
    for (int64_t b = 0; b < n_blocks; ++b) {
      __m256i isum[R][T];
      __m256i sc16[R];  // the 16 sub-block scales as int16
      float d[R];
      TETHER_UNROLL
      for (int i = 0; i < R; ++i) {
        const uint8_t* p = w[i] + b * sizeof(BlockQ6_K);
        if (T == 1) {
          for (int line = 0; line < 4; ++line) {
            _mm_prefetch(reinterpret_cast<const char*>(p + pf + 64 * line), _MM_HINT_T0);
          }
        }
        uint16_t hd;
        std::memcpy(&hd, p + offsetof(BlockQ6_K, d), 2);
        d[i] = half_to_float(hd);
        sc16[i] = _mm256_cvtepi8_epi16(
            _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + offsetof(BlockQ6_K, scales))));
        // Start from -32 * sum(scale * group sum): the quants are stored +32.
        TETHER_UNROLL
        for (int j = 0; j < T; ++j) {
          const __m256i bs = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[j][b].bsums));
          isum[i][j] = _mm256_sub_epi32(_mm256_setzero_si256(),
                                        _mm256_slli_epi32(_mm256_madd_epi16(bs, sc16[i]), 5));
        }
      }
      TETHER_UNROLL
      for (int h = 0; h < 2; ++h) {
        TETHER_UNROLL
        for (int v = 0; v < 4; ++v) {
          // Vector v of half h spans sub-blocks 8h + 2v (low 16 bytes) and
          // 8h + 2v + 1 (high 16 bytes).
          __m256i q[R];
          __m256i scale[R];
          TETHER_UNROLL
          for (int i = 0; i < R; ++i) {
            q[i] = unpack(w[i] + b * sizeof(BlockQ6_K), h, v);
            scale[i] = pair_scales(sc16[i], h, v);
          }
          TETHER_UNROLL
          for (int j = 0; j < T; ++j) {
            const __m256i xq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[j][b].qs + 128 * h + 32 * v));
            TETHER_UNROLL
            for (int i = 0; i < R; ++i) {
              isum[i][j] = _mm256_add_epi32(
                  isum[i][j], _mm256_madd_epi16(_mm256_maddubs_epi16(q[i], xq), scale[i]));
            }
          }
        }
      }
      TETHER_UNROLL
      for (int j = 0; j < T; ++j) {
        TETHER_UNROLL
        for (int i = 0; i < R; ++i) {
          acc[i][j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[i][j]), _mm256_set1_ps(d[i] * x[j][b].d),
                                      acc[i][j]);
        }
      }
    }
    TETHER_UNROLL
    for (int i = 0; i < R; ++i)
      TETHER_UNROLL
      for (int j = 0; j < T; ++j) t.y[(k + j) * t.y_stride + r + i] = hsum(acc[i][j]);
  }
};

// --- interleaved Q4_0 / Q8_0 weights x Q8_0S activations ----------------

inline __m256i broadcast4(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm256_set1_epi32(v);
}

// A group of 8 interleaved rows times T tokens: lane i of acc[j] is row
// g + i for token k + j. Per block, each 32-byte step holds 4 quant bytes of
// every row, so the integer dot products land one row per lane with no
// horizontal sums, and the 8 row scales convert in one instruction. The
// float update matches kernel_interleaved_scalar operation for operation.
template <bool kQ4>
struct InterleavedKernel {
  static constexpr size_t kBlockBytes = (kQ4 ? sizeof(BlockQ4_0) : sizeof(BlockQ8_0)) * kInterleaveRows;
  static constexpr int kSteps = kQ4 ? 4 : 8;

  template <int T>
  static void tile(const MatmulTask& t, int64_t g, int64_t k) {
    const int64_t n_blocks = t.w->cols / kQk8_0;
    const uint8_t* block = t.w->data + static_cast<size_t>(g) * t.w->row_bytes;
    const BlockQ8_0S* x[T];
    TETHER_UNROLL
    for (int j = 0; j < T; ++j) {
      x[j] = reinterpret_cast<const BlockQ8_0S*>(t.xq + static_cast<size_t>(k + j) * t.xq_stride);
    }
    __m256 acc[T];
    TETHER_UNROLL
    for (int j = 0; j < T; ++j) acc[j] = _mm256_setzero_ps();
    const __m256i ones = _mm256_set1_epi16(1);
    const __m256i mask = _mm256_set1_epi8(0x0f);
    for (int64_t b = 0; b < n_blocks; ++b, block += kBlockBytes) {
      if (T == 1) {
        _mm_prefetch(reinterpret_cast<const char*>(block + 1024), _MM_HINT_T0);
        _mm_prefetch(reinterpret_cast<const char*>(block + 1024 + 64), _MM_HINT_T0);
        if (!kQ4) {
          _mm_prefetch(reinterpret_cast<const char*>(block + 1024 + 128), _MM_HINT_T0);
          _mm_prefetch(reinterpret_cast<const char*>(block + 1024 + 192), _MM_HINT_T0);
        }
      }
      const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(block)));
      __m256i isum[T];
      TETHER_UNROLL
      for (int j = 0; j < T; ++j) isum[j] = _mm256_setzero_si256();
      TETHER_UNROLL
      for (int s = 0; s < kSteps; ++s) {
        const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block + 16 + 32 * s));
        if constexpr (kQ4) {
          const __m256i lo = _mm256_and_si256(q, mask);
          const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), mask);
          TETHER_UNROLL
          for (int j = 0; j < T; ++j) {
            // Two maddubs results stay within int16 (|2 * 15 * 128| * 2).
            const __m256i pairs = _mm256_add_epi16(_mm256_maddubs_epi16(lo, broadcast4(x[j][b].qs + 4 * s)),
                                                   _mm256_maddubs_epi16(hi, broadcast4(x[j][b].qs + 16 + 4 * s)));
            isum[j] = _mm256_add_epi32(isum[j], _mm256_madd_epi16(pairs, ones));
          }
        } else {
          // maddubs needs an unsigned operand: |w|, with w's sign moved onto x.
          const __m256i aq = _mm256_sign_epi8(q, q);
          TETHER_UNROLL
          for (int j = 0; j < T; ++j) {
            const __m256i sx = _mm256_sign_epi8(broadcast4(x[j][b].qs + 4 * s), q);
            isum[j] = _mm256_add_epi32(isum[j], _mm256_madd_epi16(_mm256_maddubs_epi16(aq, sx), ones));
          }
        }
      }
      TETHER_UNROLL
      for (int j = 0; j < T; ++j) {
        __m256i dot = isum[j];
        if constexpr (kQ4) dot = _mm256_sub_epi32(dot, _mm256_set1_epi32(8 * x[j][b].sum));
        acc[j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), _mm256_mul_ps(dw, _mm256_set1_ps(x[j][b].d)), acc[j]);
      }
    }
    TETHER_UNROLL
    for (int j = 0; j < T; ++j) _mm256_storeu_ps(t.y + (k + j) * t.y_stride + g, acc[j]);
  }

};

// --- interleaved Q4_K weights x Q8_K activations -------------------------

// shuffle_epi8 control that puts byte `s` of every dword, zero-extended to
// 16 bits, into both halves of that dword (a row's sub-block scale, ready
// for madd against pairs of int16 sums).
inline __m256i dword_byte_pair_control(int first, int second) {
  const int32_t base = first | 0x8000 | (second << 16) | static_cast<int32_t>(0x80000000u);
  return _mm256_add_epi32(_mm256_set1_epi32(base),
                          _mm256_setr_epi32(0, 0x00040004, 0x00080008, 0x000c000c, 0, 0x00040004,
                                            0x00080008, 0x000c000c));
}

// A group of 8 interleaved Q4_K rows times T tokens; lane i of acc[j] is
// row g + i for token k + j. Per chunk c of a block, 8 steps of 32 bytes
// carry 4 quant bytes of each row; the low nibbles belong to sub-block 2c
// and the high ones to 2c + 1, summed in int16 over the chunk (8 steps of
// at most 2 * 15 * 128 each fit) and then scaled per row with madd. The
// 6-bit scales and mins of all 8 rows unpack in a few vector operations.
// Float updates match interleaved_block_update operation for operation.
struct InterleavedQ4KKernel {
  static constexpr size_t kBlockBytes = sizeof(BlockQ4_K) * kInterleaveRows;

  template <int T>
  static void tile(const MatmulTask& t, int64_t g, int64_t k) {
    const int64_t n_blocks = t.w->cols / kQkK;
    const uint8_t* block = t.w->data + static_cast<size_t>(g) * t.w->row_bytes;
    const BlockQ8K* x[T];
    TETHER_UNROLL
    for (int j = 0; j < T; ++j) {
      x[j] = reinterpret_cast<const BlockQ8K*>(t.xq + static_cast<size_t>(k + j) * t.xq_stride);
    }
    __m256 acc[T];
    TETHER_UNROLL
    for (int j = 0; j < T; ++j) acc[j] = _mm256_setzero_ps();
    const __m256i ones = _mm256_set1_epi16(1);
    const __m256i m4 = _mm256_set1_epi8(0x0f);
    const __m256i m6 = _mm256_set1_epi8(0x3f);
    const __m256i top2 = _mm256_set1_epi8(0x30);
    for (int64_t b = 0; b < n_blocks; ++b, block += kBlockBytes) {
      const __m256 d8 = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(block)));
      const __m256 dmin8 = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(block + 16)));
      const __m256i sa = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block + 32));
      const __m256i sb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block + 64));
      const __m256i sc = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block + 96));
      // Dword i: row i's scales 0-3 / 4-7 and mins 0-3 / 4-7, one per byte.
      const __m256i scales_lo = _mm256_and_si256(sa, m6);
      const __m256i scales_hi =
          _mm256_or_si256(_mm256_and_si256(sc, m4), _mm256_and_si256(_mm256_srli_epi16(sa, 2), top2));
      const __m256i mins_lo = _mm256_and_si256(sb, m6);
      const __m256i mins_hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(sc, 4), m4),
                                              _mm256_and_si256(_mm256_srli_epi16(sb, 2), top2));
      __m256i isum[T];
      TETHER_UNROLL
      for (int j = 0; j < T; ++j) isum[j] = _mm256_setzero_si256();
      TETHER_UNROLL
      for (int c = 0; c < 4; ++c) {
        const __m256i scales = c < 2 ? scales_lo : scales_hi;
        const __m256i scale_lo = _mm256_shuffle_epi8(scales, dword_byte_pair_control(2 * (c % 2), 2 * (c % 2)));
        const __m256i scale_hi =
            _mm256_shuffle_epi8(scales, dword_byte_pair_control(2 * (c % 2) + 1, 2 * (c % 2) + 1));
        __m256i sum_lo[T], sum_hi[T];
        TETHER_UNROLL
        for (int j = 0; j < T; ++j) sum_lo[j] = sum_hi[j] = _mm256_setzero_si256();
        const uint8_t* chunk = block + 128 + 256 * c;
        TETHER_UNROLL
        for (int st = 0; st < 8; ++st) {
          const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(chunk + 32 * st));
          const __m256i lo = _mm256_and_si256(q, m4);
          const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
          TETHER_UNROLL
          for (int j = 0; j < T; ++j) {
            const int8_t* xq = x[j][b].qs + 64 * c + 4 * st;
            sum_lo[j] = _mm256_add_epi16(sum_lo[j], _mm256_maddubs_epi16(lo, broadcast4(xq)));
            sum_hi[j] = _mm256_add_epi16(sum_hi[j], _mm256_maddubs_epi16(hi, broadcast4(xq + 32)));
          }
        }
        TETHER_UNROLL
        for (int j = 0; j < T; ++j) {
          isum[j] = _mm256_add_epi32(isum[j], _mm256_add_epi32(_mm256_madd_epi16(sum_lo[j], scale_lo),
                                                               _mm256_madd_epi16(sum_hi[j], scale_hi)));
        }
      }
      TETHER_UNROLL
      for (int j = 0; j < T; ++j) {
        // Sub-block sums of x as int16 pairs (xs[2p], xs[2p+1]) in dwords
        // 0, 1 (p = 0, 1) and 4, 5 (p = 2, 3).
        const __m256i bsums = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[j][b].bsums));
        const __m256i xs32 = _mm256_madd_epi16(bsums, ones);
        const __m256i xs16 = _mm256_packs_epi32(xs32, xs32);
        __m256i msum = _mm256_setzero_si256();
        TETHER_UNROLL
        for (int p = 0; p < 4; ++p) {
          const __m256i mins = _mm256_shuffle_epi8(p < 2 ? mins_lo : mins_hi,
                                                   dword_byte_pair_control(2 * (p % 2), 2 * (p % 2) + 1));
          const __m256i xpair = _mm256_permutevar8x32_epi32(xs16, _mm256_set1_epi32(p < 2 ? p : p + 2));
          msum = _mm256_add_epi32(msum, _mm256_madd_epi16(mins, xpair));
        }
        const __m256 dx = _mm256_set1_ps(x[j][b].d);
        acc[j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[j]), _mm256_mul_ps(d8, dx), acc[j]);
        acc[j] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(msum), _mm256_mul_ps(dmin8, dx), acc[j]);
      }
    }
    TETHER_UNROLL
    for (int j = 0; j < T; ++j) _mm256_storeu_ps(t.y + (k + j) * t.y_stride + g, acc[j]);
  }
};

// Groups in [r0, r1) for all tokens, T at a time, in token chunks whose
// activations stay in L2 while the groups' weights stream past; rows past
// the last whole group go to the plain kernel.
template <class Kernel, int T>
void run_interleaved(const MatmulTask& t, int64_t r0, int64_t r1) {
  const int64_t grouped_end = std::min(r1, t.w->rows / kInterleaveRows * kInterleaveRows);
  const int64_t chunk = std::max<int64_t>(T, (256 * 1024) / static_cast<int64_t>(t.xq_stride + 1) / T * T);
  for (int64_t k0 = 0; k0 < t.n_tokens; k0 += chunk) {
    const int64_t k1 = std::min(t.n_tokens, k0 + chunk);
    for (int64_t g = r0; g < grouped_end; g += kInterleaveRows) {
      int64_t k = k0;
      for (; k + T <= k1; k += T) Kernel::template tile<T>(t, g, k);
      for (; k < k1; ++k) Kernel::template tile<1>(t, g, k);
    }
  }
  interleaved_rows_scalar(t, std::max(r0, grouped_end), r1);
}

// --- activation quantizers ----------------------------------------------

inline float abs_max(const float* x, int n) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  __m256 m = _mm256_setzero_ps();
  for (int j = 0; j < n; j += 8) m = _mm256_max_ps(m, _mm256_andnot_ps(sign, _mm256_loadu_ps(x + j)));
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, m);
  float amax = 0.0f;
  for (float v : lanes) amax = std::max(amax, v);
  return amax;
}

// 32 floats times id, rounded to nearest even, as int8.
inline __m256i round_to_i8(const float* x, float id) {
  const __m256 s = _mm256_set1_ps(id);
  __m256i v[4];
  for (int q = 0; q < 4; ++q) {
    const __m256 scaled = _mm256_mul_ps(_mm256_loadu_ps(x + 8 * q), s);
    v[q] = _mm256_cvtps_epi32(_mm256_round_ps(scaled, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  }
  // packs works within 128-bit lanes; the permute restores element order.
  const __m256i p01 = _mm256_packs_epi32(v[0], v[1]);
  const __m256i p23 = _mm256_packs_epi32(v[2], v[3]);
  const __m256i bytes = _mm256_packs_epi16(p01, p23);
  return _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

}  // namespace

void quantize_q8_0_activations_avx2(const float* x, int64_t cols, BlockQ8_0* out) {
  for (int64_t b = 0; b < cols / kQk8_0; ++b) {
    const float* xb = x + b * kQk8_0;
    const float d = abs_max(xb, kQk8_0) / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    out[b].d = fp32_to_fp16(d);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out[b].qs), round_to_i8(xb, id));
  }
}

void quantize_q8_k_activations_avx2(const float* x, int64_t cols, BlockQ8K* out) {
  for (int64_t b = 0; b < cols / kQkK; ++b) {
    const float* xb = x + b * kQkK;
    const float d = abs_max(xb, kQkK) / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    out[b].d = d;
    for (int part = 0; part < kQkK / 32; ++part) {
      const __m256i q = round_to_i8(xb + 32 * part, id);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out[b].qs + 32 * part), q);
      // Group sums of 16: widen to int16 and add pairs with madd.
      const __m256i lo = _mm256_cvtepi8_epi16(_mm256_castsi256_si128(q));
      const __m256i hi = _mm256_cvtepi8_epi16(_mm256_extracti128_si256(q, 1));
      out[b].bsums[2 * part] = static_cast<int16_t>(hsum_i32(_mm256_madd_epi16(lo, _mm256_set1_epi16(1))));
      out[b].bsums[2 * part + 1] = static_cast<int16_t>(hsum_i32(_mm256_madd_epi16(hi, _mm256_set1_epi16(1))));
    }
  }
}

void quantize_q8_0s_activations_avx2(const float* x, int64_t cols, BlockQ8_0S* out) {
  for (int64_t b = 0; b < cols / kQk8_0; ++b) {
    BlockQ8_0 q;
    quantize_q8_0_activations_avx2(x + b * kQk8_0, kQk8_0, &q);
    widen_q8_0_block(q, &out[b]);
  }
}

int32_t dot_q8_0_block_avx2(const BlockQ8_0& w, const BlockQ8_0& x) {
  return hsum_i32(dot_i8_lanes(UnpackQ8_0::quants(reinterpret_cast<const uint8_t*>(&w)),
                               _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.qs))));
}

int32_t dot_q4_0_block_avx2(const BlockQ4_0& w, const BlockQ8_0& x) {
  const __m256i xq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.qs));
  return hsum_i32(dot_u4_lanes(UnpackQ4_0::quants(reinterpret_cast<const uint8_t*>(&w)), xq,
                               offset_lanes(xq)));
}

void dot_q4_k_block_avx2(const BlockQ4_K& w, const BlockQ8K& x, int32_t* sum_qx, int32_t* sum_mins) {
  const __m256i mask = _mm256_set1_epi8(0x0f);
  __m256i isum = _mm256_setzero_si256();
  uint8_t scales[8];
  uint8_t mins[8];
  unpack_q4_k_scales_mins(w.scales, scales, mins);
  TETHER_UNROLL
  for (int c = 0; c < 4; ++c) {
    const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w.qs + 32 * c));
    const __m256i lo = _mm256_and_si256(q, mask);
    const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), mask);
    const __m256i x_lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.qs + 64 * c));
    const __m256i x_hi = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.qs + 64 * c + 32));
    isum = _mm256_add_epi32(isum, _mm256_madd_epi16(_mm256_maddubs_epi16(lo, x_lo), _mm256_set1_epi16(scales[2 * c])));
    isum = _mm256_add_epi32(isum, _mm256_madd_epi16(_mm256_maddubs_epi16(hi, x_hi), _mm256_set1_epi16(scales[2 * c + 1])));
  }
  *sum_qx = hsum_i32(isum);
  *sum_mins = q4_k_min_term(mins, x);
}

int32_t dot_q6_k_block_avx2(const BlockQ6_K& w, const BlockQ8K& x) {
  const auto* block = reinterpret_cast<const uint8_t*>(&w);
  const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w.scales)));
  const __m256i bs = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.bsums));
  __m256i isum = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(_mm256_madd_epi16(bs, sc16), 5));
  TETHER_UNROLL
  for (int h = 0; h < 2; ++h) {
    TETHER_UNROLL
    for (int v = 0; v < 4; ++v) {
      const __m256i scale = Q6KKernel::pair_scales(sc16, h, v);
      const __m256i xq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.qs + 128 * h + 32 * v));
      isum = _mm256_add_epi32(isum, _mm256_madd_epi16(_mm256_maddubs_epi16(Q6KKernel::unpack(block, h, v), xq), scale));
    }
  }
  return hsum_i32(isum);
}

double sum_floats_avx2(const float* data, size_t n) {
  __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    for (int a = 0; a < 4; ++a) acc[a] = _mm256_add_ps(acc[a], _mm256_loadu_ps(data + i + 8 * a));
  }
  double total = hsum(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3])));
  for (; i < n; ++i) total += data[i];
  return total;
}

RowKernel avx2_row_kernel(TensorType type) {
  switch (type) {
    case TensorType::kF32:
      return run_kernel<FloatKernel<LoadF32>, 4, 3, 4>;
    case TensorType::kF16:
      return run_kernel<FloatKernel<LoadF16>, 4, 3, 4>;
    case TensorType::kBF16:
      return run_kernel<FloatKernel<LoadBF16>, 4, 3, 4>;
    case TensorType::kQ8_0:
      return run_kernel<Q8Kernel<UnpackQ8_0>, 4, 3, 4>;
    case TensorType::kQ4_0:
      return run_kernel<Q8Kernel<UnpackQ4_0>, 4, 3, 4>;
    case TensorType::kQ4_K:
      return run_kernel<Q4KKernel, 4, 3, 4>;
    case TensorType::kQ6_K:
      return run_kernel<Q6KKernel, 4, 3, 4>;
    default:
      return nullptr;
  }
}

RowKernel avx2_interleaved_kernel(TensorType type) {
  switch (type) {
    case TensorType::kQ4_0:
      return run_interleaved<InterleavedKernel<true>, 4>;
    case TensorType::kQ8_0:
      return run_interleaved<InterleavedKernel<false>, 4>;
    case TensorType::kQ4_K:
      return run_interleaved<InterleavedQ4KKernel, 2>;
    default:
      return nullptr;
  }
}

}  // namespace tether::kernels::detail
