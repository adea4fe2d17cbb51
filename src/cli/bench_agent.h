#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace tether::cli {

// The `agent` workload of shared/design/BENCHMARKS.md, in process: S
// sessions in a closed loop (a session sends turn t + 1 when turn t ends),
// T turns each; every request carries the whole conversation: a system
// prompt of P tokens shared by all sessions, then per turn the previous
// answer (the G tokens the model really generated), every other turn a tool
// result of R tokens, and a user message of U tokens. Each turn generates G
// tokens (greedy, past EOS).
struct AgentBenchOptions {
  std::string model_path;  // GGUF file or "demo"
  int threads = 2;
  int32_t sessions = 8;         // S
  int32_t turns = 6;            // T
  int32_t system_tokens = 1024; // P
  int32_t user_tokens = 48;     // U
  int32_t gen_tokens = 32;      // G
  int32_t tool_tokens = 96;     // R
  std::string caching = "both"; // "on", "off" or "both" (one report each)
  int64_t kv_memory_mb = 256;
  std::string kv_type = "f16";   // "f16" or "q8_0"
  int32_t block_tokens = 16;
  std::string prefix_cache_dir;  // persistent prefix cache (with caching on); empty: off
  uint64_t seed = 42;           // of the generated text the prompts are cut from
};

// One turn of one session, as either form of the benchmark measures it.
struct AgentTurn {
  int32_t session = 0;
  int32_t turn = 0;
  int32_t prompt_tokens = 0;
  int32_t cached_tokens = -1;  // -1: the server did not say
  int32_t completion_tokens = 0;
  double ttft_ms = 0;
  double total_ms = 0;
};

// Throws Error(kInvalidArgument) for a workload shape out of range (either
// form of the benchmark).
void check_agent_shape(int32_t sessions, int32_t turns, int32_t system_tokens, int32_t user_tokens,
                       int32_t gen_tokens, int32_t tool_tokens);

// The report fields every agent run shares: "requests", "wall_s",
// "prompt_tokens", "cached_prompt_tokens", "cached_share" (null when the
// server reported no cached counts), "output_tokens_per_s", "ttft_ms"
// {cold, warm, all} and "turn_latency_ms" p50/p95; a JSON object body without
// its braces, so a caller can add fields.
std::string agent_turns_json_fields(const std::vector<AgentTurn>& turns, double wall_s);

// Runs the workload (with prefix caching on, off, or both, one after the
// other on a fresh engine) and prints one JSON document per the benchmark
// spec: TTFT p50/p95 for cold (first) and warm (later) turns, turn latency
// p50/p95, output tokens/s, the cached share of prompt tokens, and warm TTFT
// divided by the time to prefill the turn's uncached tokens alone (measured
// after the sessions, on the idle engine, on top of the same cached prefix;
// caching on only). Throws Error for bad options or a bad model.
void run_agent_bench(const AgentBenchOptions& options);

}  // namespace tether::cli
