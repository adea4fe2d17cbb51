#pragma once

#include <cstdint>

// Small element-wise steps of a transformer layer: plain loops the compiler
// vectorizes; the heavy work is in the matmul and attention kernels.
namespace tether::model {

// y = x / sqrt(mean(x^2) + eps) * weight, over n elements (y may alias x).
void rms_norm(const float* x, const float* weight, int64_t n, float eps, float* y);


// y[i] += x[i].
void add_in_place(float* y, const float* x, int64_t n);

}  // namespace tether::model
