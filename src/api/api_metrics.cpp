#include "api/api_metrics.h"

#include "metrics/histogram.h"

namespace tether::api {

namespace {

double seconds_since(std::chrono::steady_clock::time_point started) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
}

// One callback metric per engine statistic, a sample per local replica.
void engine_metric(metrics::Registry& registry, const std::string& name, const std::string& help,
                   std::string_view type, const ApiMetrics::ModelList& models,
                   std::function<double(const sched::EngineStats&)> read) {
  registry.callback(name, help, type, {"model", "replica"}, [models, read] {
    std::vector<metrics::Registry::Sample> samples;
    for (const auto& model : models()) {
      for (size_t i = 0; i < model->engines.size(); ++i) {
        samples.push_back({{model->id, local_replica_id(i)}, read(model->engines[i]->stats())});
      }
    }
    return samples;
  });
}

// Several samples per model, told apart by a second label.
void engine_metric_by(metrics::Registry& registry, const std::string& name, const std::string& help,
                      std::string_view type, const std::string& label, const ApiMetrics::ModelList& models,
                      std::vector<std::pair<std::string, std::function<double(const sched::EngineStats&)>>> reads) {
  registry.callback(name, help, type, {"model", "replica", label}, [models, reads] {
    std::vector<metrics::Registry::Sample> samples;
    for (const auto& model : models()) {
      for (size_t i = 0; i < model->engines.size(); ++i) {
        const sched::EngineStats stats = model->engines[i]->stats();
        for (const auto& [value, read] : reads) samples.push_back({{model->id, local_replica_id(i), value}, read(stats)});
      }
    }
    return samples;
  });
}

}  // namespace

ApiMetrics::ApiMetrics(metrics::Registry* registry, ModelList models) {
  if (registry == nullptr) return;
  metrics::Registry& r = *registry;
  // Declared up front so that a scrape before the first request lists them.
  ttft_ = &r.histogram("gen_ai_server_time_to_first_token_seconds",
                       "Time from request arrival to the first generated token", {"model"},
                       metrics::latency_buckets_seconds());
  duration_ = &r.histogram("gen_ai_server_request_duration_seconds", "Time from request arrival to its end",
                           {"model"}, metrics::latency_buckets_seconds());
  tokens_ = &r.counter("tether_tokens_total", "Tokens by type: prompt, cached (of prompt), completion",
                       {"model", "type"});
  rejected_ = &r.counter("tether_requests_rejected_total", "Requests answered 429 because the engine was full",
                         {"model"});
  using S = sched::EngineStats;
  engine_metric(r, "tether_engine_requests_running", "Sequences started and not finished", "gauge", models,
                [](const S& s) { return s.running; });
  engine_metric(r, "tether_engine_requests_waiting", "Accepted requests not started (preempted included)",
                "gauge", models, [](const S& s) { return s.waiting; });
  engine_metric_by(r, "tether_kv_blocks", "KV cache blocks by state (cached blocks are part of free)", "gauge",
                   "state", models,
                   {{"used", [](const S& s) { return s.kv.used_blocks; }},
                    {"free", [](const S& s) { return s.kv.free_blocks; }},
                    {"cached", [](const S& s) { return s.kv.cached_blocks; }},
                    {"total", [](const S& s) { return s.kv.total_blocks; }}});
  engine_metric(r, "tether_prefix_cache_hit_ratio",
                "Prompt tokens served from the prefix cache / prompt tokens looked up", "gauge", models,
                [](const S& s) {
                  return s.kv.query_tokens == 0 ? 0.0
                                                : static_cast<double>(s.kv.hit_tokens) / s.kv.query_tokens;
                });
  engine_metric(r, "tether_prefix_cache_query_tokens_total", "Prompt tokens looked up in the prefix cache",
                "counter", models, [](const S& s) { return s.kv.query_tokens; });
  engine_metric(r, "tether_prefix_cache_hit_tokens_total", "Prompt tokens served from the prefix cache",
                "counter", models, [](const S& s) { return s.kv.hit_tokens; });
  engine_metric(r, "tether_kv_evicted_blocks_total", "Cached KV blocks evicted for reuse", "counter", models,
                [](const S& s) { return s.kv.evicted_blocks; });
  engine_metric(r, "tether_engine_steps_total", "Forward steps run", "counter", models,
                [](const S& s) { return s.steps; });
  engine_metric(r, "tether_engine_step_tokens_total", "Tokens computed by forward steps", "counter", models,
                [](const S& s) { return s.step_tokens; });
  engine_metric(r, "tether_engine_preemptions_total", "Sequences preempted for KV space", "counter", models,
                [](const S& s) { return s.preemptions; });
  engine_metric(r, "tether_engine_rejected_total", "Requests refused because the queue was full", "counter",
                models, [](const S& s) { return s.rejected; });
  engine_metric_by(r, "tether_engine_requests_finished_total", "Requests finished, by outcome", "counter",
                   "status", models,
                   {{"completed", [](const S& s) { return s.completed; }},
                    {"cancelled", [](const S& s) { return s.cancelled; }},
                    {"failed", [](const S& s) { return s.failed; }}});
}

void ApiMetrics::first_token(const ServedModel& model, std::chrono::steady_clock::time_point started) {
  if (ttft_ != nullptr) ttft_->labels({model.id}).observe(seconds_since(started));
}

void ApiMetrics::finished(const ServedModel& model, const sched::RequestUsage& usage,
                          std::chrono::steady_clock::time_point started) {
  if (duration_ == nullptr) return;
  duration_->labels({model.id}).observe(seconds_since(started));
  tokens_->labels({model.id, "prompt"}).inc(usage.prompt_tokens);
  tokens_->labels({model.id, "cached"}).inc(usage.cached_prompt_tokens);
  tokens_->labels({model.id, "completion"}).inc(usage.completion_tokens);
}

void ApiMetrics::rejected(const ServedModel& model) {
  if (rejected_ != nullptr) rejected_->labels({model.id}).inc();
}

}  // namespace tether::api
