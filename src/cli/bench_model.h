#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tether::cli {

struct ModelBenchOptions {
  std::string model_path;           // GGUF file or "demo"
  int threads = 2;                  // 0 = one per hardware thread
  int32_t prefill_tokens = 512;     // prompt length of the prefill workload
  int32_t decode_tokens = 64;       // tokens generated per decode workload
  int32_t decode_prompt_tokens = 16;  // prompt length ahead of each decode
  std::vector<int32_t> batch_sizes = {4, 16};  // batched decode workloads
  int repeats = 3;                  // timed runs; medians are reported
  int64_t bandwidth_mb = 512;       // buffer of the read-bandwidth probe
};

// Loads the model and prints one JSON document: prefill tok/s, decode tok/s
// for one sequence and aggregate tok/s for each batch size, peak RSS against
// weights + KV + 64 MiB, the memory-read bandwidth measured in the same run,
// weight bytes read per decoded token, the decode limit they imply and the
// fraction of it reached. Throws Error for bad options or a bad model.
void run_model_bench(const ModelBenchOptions& options);

}  // namespace tether::cli
