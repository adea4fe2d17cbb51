#include "engine/kernels/activation.h"

#include <cmath>

#if defined(__x86_64__)
#include "engine/kernels/exp_avx2.h"
#endif

namespace tether::kernels {
namespace {

void swiglu_scalar(float* gate, const float* up, int64_t n, int64_t i) {
  for (; i < n; ++i) {
    const float g = gate[i];
    gate[i] = g / (1.0f + std::exp(-g)) * up[i];
  }
}

#if defined(__x86_64__)
__attribute__((target("avx2,fma"))) void swiglu_avx2(float* gate, const float* up, int64_t n) {
  const __m256 one = _mm256_set1_ps(1.0f);
  const __m256 sign = _mm256_set1_ps(-0.0f);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 g = _mm256_loadu_ps(gate + i);
    const __m256 denom = _mm256_add_ps(one, exp8(_mm256_xor_ps(g, sign)));
    _mm256_storeu_ps(gate + i, _mm256_mul_ps(_mm256_div_ps(g, denom), _mm256_loadu_ps(up + i)));
  }
  swiglu_scalar(gate, up, n, i);
}
#endif

}  // namespace

void swiglu(float* gate, const float* up, int64_t n, KernelPath path) {
#if defined(__x86_64__)
  if (path == KernelPath::kAvx2 && best_kernel_path() == KernelPath::kAvx2) {
    swiglu_avx2(gate, up, n);
    return;
  }
#endif
  swiglu_scalar(gate, up, n, 0);
}

}  // namespace tether::kernels
