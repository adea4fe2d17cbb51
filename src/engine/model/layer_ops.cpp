#include "engine/model/layer_ops.h"

#include <cmath>

namespace tether::model {

void rms_norm(const float* x, const float* weight, int64_t n, float eps, float* y) {
  // Sum in double: the norm of a long row then does not depend on the order
  // of additions the compiler picks.
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(x[i]) * x[i];
  const float scale = static_cast<float>(1.0 / std::sqrt(sum / static_cast<double>(n) + eps));
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] * scale * weight[i];
}

void add_in_place(float* y, const float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += x[i];
}

}  // namespace tether::model
