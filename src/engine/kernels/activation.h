#pragma once

#include <cstdint>

#include "engine/kernels/matmul.h"

namespace tether::kernels {

// gate[i] = silu(gate[i]) * up[i] for i < n, silu(g) = g / (1 + e^-g). The
// AVX2 path evaluates e^x with a polynomial (exp_avx2.h), within a few
// float ulps of the scalar path's std::exp.
void swiglu(float* gate, const float* up, int64_t n, KernelPath path = best_kernel_path());

}  // namespace tether::kernels
