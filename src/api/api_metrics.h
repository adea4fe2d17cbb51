#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <vector>

#include "api/served_model.h"
#include "metrics/counter.h"
#include "metrics/histogram.h"
#include "metrics/registry.h"

namespace tether::api {

// The inference metrics of the API: OpenTelemetry GenAI names where they
// fit, tether_* otherwise, labelled by model id:
//   gen_ai_server_time_to_first_token_seconds, gen_ai_server_request_duration_seconds,
//   tether_tokens_total{type=prompt|cached|completion}, tether_requests_rejected_total,
// and each engine's statistics read at scrape time (gauges
// tether_engine_requests_{running,waiting}, tether_kv_blocks{state=used|
// free|cached|total}, tether_prefix_cache_hit_ratio; counters
// tether_prefix_cache_{query,hit}_tokens_total, tether_kv_evicted_blocks_total,
// tether_engine_{steps,step_tokens,preemptions,rejected}_total,
// tether_engine_requests_finished_total{status}). Without a registry every
// call does nothing.
class ApiMetrics {
 public:
  using ModelList = std::function<std::vector<std::shared_ptr<ServedModel>>()>;

  // `models` is called at each scrape (models may be added later).
  ApiMetrics(metrics::Registry* registry, ModelList models);

  void first_token(const ServedModel& model, std::chrono::steady_clock::time_point started);
  void finished(const ServedModel& model, const sched::RequestUsage& usage,
                std::chrono::steady_clock::time_point started);
  void rejected(const ServedModel& model);

 private:
  metrics::Family<metrics::Histogram>* ttft_ = nullptr;
  metrics::Family<metrics::Histogram>* duration_ = nullptr;
  metrics::Family<metrics::Counter>* tokens_ = nullptr;
  metrics::Family<metrics::Counter>* rejected_ = nullptr;
};

}  // namespace tether::api
