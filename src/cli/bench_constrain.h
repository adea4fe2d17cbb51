#pragma once

#include <cstdint>
#include <string>

namespace tether::cli {

// The `constrain` workload: the cost of grammar-constrained decoding. The
// same prompts are decoded (temperature 1, fixed seeds) without and with a
// json_schema constraint, one sequence at a time and alternating; the
// median per-token decode time of the sequences
// both ways, the time of each token mask, and their ratio. Also the mask
// time in chosen grammar states (inside a JSON string: the worst case, where
// almost every token is allowed) and the one-off vocabulary indexing time.
// With vocab_path, the same on that vocabulary, and the ratio its masks
// would give at the model's decode speed.
struct ConstrainBenchOptions {
  std::string model_path;  // GGUF file or "demo"
  // Optional GGUF whose vocabulary (e.g. a real 50k BPE vocabulary) the
  // masks are also measured on: a valid document replayed token by token.
  std::string vocab_path;
  int threads = 2;
  int32_t tokens = 64;  // max tokens per sequence (--decode-tokens)
  int repeats = 4;      // sequences per mode
  uint64_t seed = 42;
};

// Prints one JSON document. Throws Error for bad options or a bad model.
void run_constrain_bench(const ConstrainBenchOptions& options);

}  // namespace tether::cli
