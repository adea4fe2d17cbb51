#pragma once

#include <string>

namespace tether::cli {

struct MatmulBenchOptions {
  std::string type = "q8_0";  // a weight type name, or "all"
  int threads = 2;
  int tokens = 1;             // 1 = decode (matrix x vector)
  int repeats = 5;
  std::string path = "best";  // "best", "avx2" or "scalar"
  std::string layout = "best";  // "best" (as the engine packs weights) or "rows" (GGUF)
  int probe_mb = 512;         // bandwidth probe buffer
  int working_set_mb = 256;   // weights cycled through per shape (beats the cache)
};

// Times the matmul kernels on the 0.5b preset's matrix shapes and prints one
// JSON object: per shape GB/s of weights read, GFLOP/s, and the fraction of
// the read bandwidth measured in the same run; plus an estimate of one whole
// forward pass (24 layers + output) from the per-shape times.
void run_matmul_bench(const MatmulBenchOptions& options);

}  // namespace tether::cli
