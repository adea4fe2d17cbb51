#pragma once

#include <cstddef>

#include "engine/kernels/thread_pool.h"

namespace tether::kernels {

// Measures how fast all threads of `pool` can read memory: each thread sums
// its part of a `bytes`-sized buffer (with AVX2 where available), and the
// median of `repeats` timed passes (after one warm-up pass) is returned in
// GB/s (1e9 bytes per second). The buffer should be much larger than the
// last-level cache; decode speed is judged against this figure.
double measure_read_bandwidth_gbps(ThreadPool& pool, size_t bytes = size_t{512} << 20,
                                   int repeats = 5);

}  // namespace tether::kernels
