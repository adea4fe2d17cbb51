#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "cli/async_config.h"
#include "http/server_options.h"
#include "router/router.h"
#include "router/routing_key.h"
#include "router/upstream.h"
#include "sched/engine.h"

namespace tether::cli {

// Another name under which a client may ask for the served model (Workers
// AI names such as "@cf/moonshotai/kimi-k2.5", OpenAI names).
struct ModelAlias {
  std::string alias;
  std::string model;  // the served model's name
};

// Everything `tether serve` is told, by flags or a YAML file (flags win).
// The file's keys, all optional; an unknown key or a value of the wrong type
// is an error naming the key:
//
//   model: demo                 # GGUF path, or "demo" (the built-in demo model)
//   model_name: tether-demo     # the id clients send and /v1/models lists
//                               #   (default: "demo", or the file name without .gguf)
//   aliases:                    # alias -> served model name
//     "@cf/moonshotai/kimi-k2.5": tether-demo
//   host: 127.0.0.1
//   port: 8080                  # 0 = an ephemeral port (printed at start)
//   api_key: sk-...             # bearer required on every route but /health, /ready
//   threads: 2                  # compute threads; 0 = one per core
//   kv_memory: 256              # KV cache budget, MiB
//   max_running: 32             # sequences in one batch
//   max_queued: 256             # waiting requests past this: 429
//   prefix_cache_dir: /var/lib/tether/kv   # persistent prefix cache ("" = off)
//   prefix_cache_max_mb: 0      # bound on that directory; 0 = none
//   io_threads: 1               # network threads
//   max_connections: 1024
//   max_header_bytes: 16384
//   max_body_bytes: 8388608
//   header_timeout_ms: 10000    # first byte to end of headers
//   body_timeout_ms: 30000
//   idle_timeout_ms: 60000      # keep-alive
//   write_timeout_ms: 30000
//   drain_timeout_ms: 10000     # SIGTERM: in-flight requests get this long
//   access_log: true
//   replicas: 1                 # local engine replicas of the model, each with its own
//                               #   KV pool, scheduler and `threads`; 0 = a gateway to upstreams only
//   upstreams:                  # remote engines: another tether serve, vLLM, SGLang, llama-server
//     - url: http://10.0.0.7:8080
//       id: gpu-a               # its name in metrics and logs (default host:port)
//       models: [tether-demo]   # served model names it answers for (default: model_name);
//                               #   a name no local model has becomes an upstream-only model
//       model: llama-3-8b       # the model name sent to it (default: the client's)
//       api_key: sk-...         # bearer sent to it
//       workers_ai: false       # it answers /ai/run too (another tether serve)
//       connect_timeout_ms: 2000
//       response_timeout_ms: 300000   # request sent to response headers
//       idle_timeout_ms: 60000        # between streamed chunks
//       max_idle_connections: 16      # keep-alive pool
//       health_path: /health
//       health_interval_ms: 5000      # active checks
//   routing:
//     policy: affinity          # affinity | prefix | least-loaded | round-robin
//     model_policies:           # per served model name
//       tether-demo: prefix
//     load_bound: 1.25          # affinity: a replica above this x the mean load spills
//     prefix_load_weight: 8     # prefix: cached chunks one in-flight request is worth
//     affinity_from: [prompt_cache_key]   # body fields used without x-session-affinity
//                                         #   (prompt_cache_key, user)
//     prefix_index_chunks: 65536          # per replica
//     prefix_ttl_ms: 600000
//     eject_after_failures: 3
//   async: ...                  # the async API's queue, dispatch and webhooks: see cli/async_config.h
struct UpstreamConfig {
  std::string url;
  std::string id;
  std::vector<std::string> models;
  std::string model;
  std::string api_key;
  bool workers_ai = false;
  int64_t connect_timeout_ms = 2'000;
  int64_t response_timeout_ms = 300'000;
  int64_t idle_timeout_ms = 60'000;
  int64_t max_idle_connections = 16;
  std::string health_path = "/health";
  int64_t health_interval_ms = 5'000;

  router::UpstreamOptions options() const;
};

struct RoutingConfig {
  std::string policy = "affinity";
  std::vector<std::pair<std::string, std::string>> model_policies;  // model name -> policy
  double load_bound = 1.25;
  double prefix_load_weight = 8.0;
  std::vector<std::string> affinity_from = {"prompt_cache_key"};
  int64_t prefix_index_chunks = 65'536;
  int64_t prefix_ttl_ms = 600'000;
  int64_t eject_after_failures = 3;

  // The router's options for `model` (its policy, else the default one).
  router::RouterOptions router_options(std::string_view model) const;
  router::AffinitySources affinity_sources() const;
};

struct ServeConfig {
  std::string model = "demo";
  std::string model_name;  // "" = derived from model
  std::vector<ModelAlias> aliases;
  int32_t threads = 2;
  int64_t kv_memory_mb = 256;
  int32_t max_running = 32;
  int32_t max_queued = 256;
  std::string prefix_cache_dir;
  int64_t prefix_cache_max_mb = 0;
  int64_t drain_timeout_ms = 10'000;
  http::ServerOptions server;  // host, port, api_key, limits, timeouts, access_log
  int32_t replicas = 1;
  std::vector<UpstreamConfig> upstreams;
  RoutingConfig routing;
  AsyncConfig async;

  // The served model's name: model_name, else "demo" for the demo model,
  // else the file name without its .gguf extension.
  std::string served_model_name() const;
  // The engine's options from this config.
  sched::EngineOptions engine_options() const;
  // The model names upstreams answer for that no local model has.
  std::vector<std::string> upstream_only_models() const;
  // Indexes into `upstreams` of those answering for `model`.
  std::vector<size_t> upstreams_for(std::string_view model) const;
  // Error(kInvalidArgument) naming the first value out of range.
  void validate() const;
};

// Parses YAML text into `config` (keys not present keep their values).
// `source` names the file in errors.
void apply_serve_config_yaml(std::string_view yaml_text, std::string_view source, ServeConfig& config);
// Reads and applies a YAML file; Error(kNotFound) when it does not exist.
void apply_serve_config_file(const std::filesystem::path& path, ServeConfig& config);

}  // namespace tether::cli
