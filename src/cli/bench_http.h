#pragma once

#include <cstdint>
#include <string>

namespace tether::cli {

// The `http` workload: what the HTTP layer costs, in process, server on one
// io thread, clients on another.
//  - plain: `connections` keep-alive clients send `requests` small requests
//    to a handler that does no work: requests/s and latency p50/p99.
//  - streams: `streams` concurrent SSE responses, each fed `stream_events`
//    events from another thread (as the engine feeds tokens): all held open
//    at once by the one io thread; event delivery latency p50/p99.
//  - generate: `generate_requests` sequential streamed generations on the
//    tiny model through a handler that drives sched::Engine: client-measured
//    time to first token minus the engine's own TTFT = the latency the HTTP
//    layer adds (p50/p99).
struct HttpBenchOptions {
  std::string model_path = "demo";
  int threads = 2;
  int32_t connections = 16;
  int32_t requests = 20000;
  int32_t streams = 256;
  int32_t stream_events = 20;
  int32_t event_interval_ms = 20;  // between rounds of events (50 events/s per stream)
  int32_t generate_requests = 32;
  int32_t gen_tokens = 16;
};

// Prints one JSON document. Throws Error for bad options or a bad model.
void run_http_bench(const HttpBenchOptions& options);

}  // namespace tether::cli
