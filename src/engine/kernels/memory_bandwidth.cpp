#include "engine/kernels/memory_bandwidth.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <vector>

#include "common/error.h"
#include "engine/kernels/matmul.h"
#include "engine/kernels/matmul_internal.h"

namespace tether::kernels {
namespace {

double sum_floats_scalar(const float* data, size_t n) {
  float acc[8] = {};
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int l = 0; l < 8; ++l) acc[l] += data[i + l];
  }
  double total = 0.0;
  for (float a : acc) total += a;
  for (; i < n; ++i) total += data[i];
  return total;
}

}  // namespace

double measure_read_bandwidth_gbps(ThreadPool& pool, size_t bytes, int repeats) {
  if (bytes < 4096 || repeats < 1) {
    throw_error(ErrorCode::kInvalidArgument,
                "bandwidth probe needs >= 4096 bytes and >= 1 repeat (got {} bytes, {} repeats)",
                bytes, repeats);
  }
  const size_t n = bytes / sizeof(float);
  std::unique_ptr<float[]> buffer(new float[n]);
  // Written (in parallel, so pages land near the threads that read them)
  // with small values whose sums stay finite.
  constexpr int64_t kGrain = 1 << 16;  // floats per chunk: 256 KiB
  pool.parallel_for(static_cast<int64_t>(n), kGrain, [&](int64_t b, int64_t e, int) {
    for (int64_t i = b; i < e; ++i) buffer[static_cast<size_t>(i)] = static_cast<float>(i & 7);
  });

  [[maybe_unused]] const bool avx2 = best_kernel_path() == KernelPath::kAvx2;
  std::vector<double> partial(static_cast<size_t>(pool.size()));
  std::vector<double> seconds;
  double checksum = 0.0;
  for (int pass = 0; pass <= repeats; ++pass) {
    std::fill(partial.begin(), partial.end(), 0.0);
    const auto start = std::chrono::steady_clock::now();
    pool.parallel_for(static_cast<int64_t>(n), kGrain, [&](int64_t b, int64_t e, int thread) {
      const float* p = buffer.get() + b;
      const auto count = static_cast<size_t>(e - b);
#if defined(TETHER_KERNELS_AVX2)
      if (avx2) {
        partial[static_cast<size_t>(thread)] += detail::sum_floats_avx2(p, count);
        return;
      }
#endif
      partial[static_cast<size_t>(thread)] += sum_floats_scalar(p, count);
    });
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    for (double s : partial) checksum += s;
    if (pass > 0) seconds.push_back(elapsed);  // pass 0 warms up
  }
  // The sum is used so the reads cannot be optimized away.
  if (!(checksum > 0.0)) throw_error(ErrorCode::kInternal, "bandwidth probe summed {}", checksum);
  std::sort(seconds.begin(), seconds.end());
  const double median = seconds[seconds.size() / 2];
  return static_cast<double>(n * sizeof(float)) / median / 1e9;
}

}  // namespace tether::kernels
