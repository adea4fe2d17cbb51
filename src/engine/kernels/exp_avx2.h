#pragma once

#include <immintrin.h>

// e^x for 8 floats with AVX2/FMA, for the softmax and SiLU of the AVX2
// paths. Include only from code compiled for (or attributed with) avx2,fma.
//
// x = n ln2 + r with n = round(x / ln2) and |r| <= ln2 / 2 (ln2 split in a
// high part exact in float and a low correction); e^r from its degree-6
// Taylor polynomial (relative error below 2e-7 on that interval); 2^n built
// in the exponent bits. Inputs are clamped to [-87.3, 88.3], so results stay
// normal floats: e^-inf gives about 1e-38 instead of 0, which the callers
// only ever multiply by or add to finite sums.
namespace tether::kernels {

__attribute__((target("avx2,fma"))) inline __m256 exp8(__m256 x) {
  x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.3f)), _mm256_set1_ps(88.3f));
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.0f / 720.0f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  const __m256i scale = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(p, _mm256_castsi256_ps(scale));
}

}  // namespace tether::kernels
