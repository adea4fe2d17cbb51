#pragma once

#include <cstdint>
#include <string>

namespace tether::cli {

// The `async` workload (issue 7): the async API of a real `tether serve`,
// started as a child process with a generated config, measured over HTTP.
//  a) baseline: `clients` concurrent clients each send `requests` streaming
//     chat requests one after another (distinct prompts of about
//     `prompt_tokens` tokens, `max_tokens` generated) with no async work:
//     TTFT (time to the first streamed content) and latency p50/p95;
//  b) submit: `jobs` async requests as fast as `submit_connections`
//     connections can: single `x-tether-async: true` chat jobs, or (batch_size > 0)
//     Workers AI batches of `batch_size` requests (queueRequest).
//     Each acknowledgement means committed: jobs/s submitted;
//  c) the interactive load of (a) again while that backlog drains: TTFT
//     under backlog and p95_backlog / p95_baseline (issue 7's target: <= 1.2);
//  d) the wait until every job is terminal (polled at GET /v1/jobs): jobs/s
//     completed, first submit to last completion; succeeded and failed;
//  e) the interactive load once more, drained: how far the machine's speed
//     drifted during the run (shared machines), judging (c)'s ratio.
// The server is stopped with SIGTERM at the end, killed on an error.
struct AsyncBenchOptions {
  std::string model_path;  // GGUF; "" = a tiny model made in the temp dir
  std::string vocab_path;  // for that tiny model: a GGUF whose vocabulary it copies ("" = built-in)
  std::string store;       // job store URL; "" = a fresh SQLite file in the temp dir
  std::string server_binary;  // "" = this program (/proc/self/exe)
  int32_t threads = 2;        // the server's compute threads
  int64_t kv_memory_mb = 64;
  int32_t jobs = 200;         // async requests submitted
  int32_t batch_size = 0;     // 0: single jobs; else Workers AI batches of this many requests
  int32_t submit_connections = 4;
  int32_t clients = 2;
  int32_t requests = 20;      // per client and phase
  int32_t prompt_tokens = 300;
  int32_t max_tokens = 32;
  int32_t async_max_in_flight = 4;
  int32_t async_max_interactive = 1;
  // The server's async.yield_to_prefill: "on", "off", or "both" (the whole
  // run twice, off then on, each with a fresh server: a before/after).
  std::string yield = "on";
  int64_t timeout_s = 1800;   // for the backlog to drain
  uint64_t seed = 42;
  bool json = false;          // one JSON document instead of the table
};

// Runs the phases and prints the report (with "both", one per run; with
// `json`, one JSON document per line). Error(kInvalidArgument) for
// bad options; Error(kIo) when the server fails (with the end of its log).
void run_async_bench(const AsyncBenchOptions& options);

}  // namespace tether::cli
