#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "http/server_options.h"
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

  // The served model's name: model_name, else "demo" for the demo model,
  // else the file name without its .gguf extension.
  std::string served_model_name() const;
  // The engine's options from this config.
  sched::EngineOptions engine_options() const;
  // Error(kInvalidArgument) naming the first value out of range.
  void validate() const;
};

// Parses YAML text into `config` (keys not present keep their values).
// `source` names the file in errors.
void apply_serve_config_yaml(std::string_view yaml_text, std::string_view source, ServeConfig& config);
// Reads and applies a YAML file; Error(kNotFound) when it does not exist.
void apply_serve_config_file(const std::filesystem::path& path, ServeConfig& config);

}  // namespace tether::cli
