#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cli/bench_agent_http.h"

namespace tether::cli {

// The `fleet` workload (BENCHMARKS.md): the agent workload through HTTP over
// N local replicas of one model behind one `tether serve` router, once per
// routing policy, each run on fresh replicas. Reports per policy the cached
// share of prompt tokens, TTFT and turn latency, the decisions by reason,
// and the load imbalance: max over mean of the replicas' time-averaged
// in-flight requests.
struct FleetBenchOptions {
  std::string model_path;  // GGUF with a real vocabulary ("demo" allowed)
  int32_t replicas = 4;
  std::vector<std::string> policies = {"affinity", "prefix", "least-loaded", "round-robin"};
  int32_t threads = 1;          // compute threads per replica
  int64_t kv_memory_mb = 0;     // per replica; 0 = kv_headroom x its fair share of the sessions' final contexts
  double kv_headroom = 1.5;
  AgentHttpBenchOptions agent;  // url and model_name are set per run
};

void run_fleet_bench(const FleetBenchOptions& options);

}  // namespace tether::cli
