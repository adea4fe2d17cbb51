#include "engine/kernels/activation.h"

#include <cmath>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#if defined(__x86_64__)
#include "engine/kernels/exp_avx2.h"
#endif

namespace tether::kernels {
namespace {

#if defined(__x86_64__)
__attribute__((target("avx2,fma"))) void exp_of_8(const float* in, float* out) {
  _mm256_storeu_ps(out, exp8(_mm256_loadu_ps(in)));
}
#endif

TEST(Exp8, WithinTwoTenthsOfAMillionthRelativeAcrossTheFloatRange) {
#if defined(__x86_64__)
  if (best_kernel_path() != KernelPath::kAvx2) GTEST_SKIP() << "this CPU lacks AVX2/FMA";
  double worst = 0.0;
  for (float start = -87.0f; start < 88.0f; start += 0.0173f * 8) {
    float in[8], out[8];
    for (int i = 0; i < 8; ++i) in[i] = start + 0.0173f * i;
    exp_of_8(in, out);
    for (int i = 0; i < 8; ++i) {
      const double expect = std::exp(static_cast<double>(in[i]));
      worst = std::max(worst, std::fabs(out[i] - expect) / expect);
    }
  }
  EXPECT_LT(worst, 4e-7);
  // Clamped ends stay finite and ordered: tiny for -inf, huge for +inf.
  float in[8] = {-INFINITY, -1000.0f, -87.3f, 0.0f, 1.0f, 88.3f, 1000.0f, INFINITY};
  float out[8];
  exp_of_8(in, out);
  EXPECT_LT(out[0], 1e-37f);
  EXPECT_GE(out[0], 0.0f);
  EXPECT_FLOAT_EQ(out[3], 1.0f);
  EXPECT_NEAR(out[4], 2.7182817f, 1e-6f);
  EXPECT_TRUE(std::isfinite(out[7]));
  EXPECT_GT(out[7], 1e38f);
#else
  GTEST_SKIP() << "no AVX2 path on this architecture";
#endif
}

TEST(Swiglu, Avx2AgreesWithScalarIncludingTailsAndExtremes) {
  if (best_kernel_path() != KernelPath::kAvx2) GTEST_SKIP() << "this CPU lacks AVX2/FMA";
  std::mt19937 rng(5);
  std::normal_distribution<float> dist(0.0f, 4.0f);
  for (int64_t n : {1, 8, 37, 4864}) {
    std::vector<float> gate(n), up(n);
    for (auto& g : gate) g = dist(rng);
    for (auto& u : up) u = dist(rng);
    if (n > 4) {
      gate[0] = -100.0f;
      gate[1] = 100.0f;
      gate[2] = 0.0f;
    }
    std::vector<float> scalar = gate, avx2 = gate;
    swiglu(scalar.data(), up.data(), n, KernelPath::kScalar);
    swiglu(avx2.data(), up.data(), n, KernelPath::kAvx2);
    for (int64_t i = 0; i < n; ++i) {
      const double silu = gate[i] / (1.0 + std::exp(-static_cast<double>(gate[i])));
      EXPECT_NEAR(scalar[i], silu * up[i], 1e-6 * (1.0 + std::fabs(silu * up[i]))) << i;
      EXPECT_NEAR(avx2[i], scalar[i], 1e-6 * (1.0 + std::fabs(scalar[i]))) << "n " << n << " at " << i;
    }
  }
}

}  // namespace
}  // namespace tether::kernels
