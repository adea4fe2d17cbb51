#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <yaml-cpp/yaml.h>

namespace tether::cli {

// A tenant of the async API: its own bearer key (accepted besides the
// server's api_key) and a webhook for every event of its jobs.
struct AsyncTenant {
  std::string name;
  std::string api_key;
  std::string webhook_url;     // "" = none
  std::string webhook_secret;  // "" = the async webhooks' secret
};

// The `async:` section of the serve config (all keys optional):
//
//   async:
//     store: sqlite:tether-jobs.db    # or postgres://user@host/db (several gateways, one queue)
//     worker_id: gw-1                 # lease owner name (default host:pid)
//     max_interactive: 1              # per local replica: take async work only while fewer
//                                     #   interactive sequences run or wait
//     max_kv_use: 0.8                 # ... and while less of the KV pool than this is in use
//     max_in_flight: 4                # async requests running at once
//     yield_to_prefill: true          # async sequences sit out the engine steps in which
//                                     #   interactive ones prefill, and async prefill waits while
//                                     #   interactive sequences run (async decodes go on)
//     prefill_chunk: 32               # ... and async prefill takes at most this many tokens a
//                                     #   step, so an interactive request arriving mid-step waits
//                                     #   little (0 = no cap)
//     lease_ms: 30000                 # a claimed item's lease (renewed while it runs)
//     poll_interval_ms: 200
//     max_attempts: 3                 # runs of an item that end in a server error
//     completion_window: 24h          # default deadline of a job that names none
//     webhooks:
//       allow: [http://127.0.0.1:9000/hooks]   # target URL prefixes; nothing else is called
//       secret: whsec-...             # HMAC-SHA256 key of per-job targets
//       max_attempts: 8
//       initial_backoff_ms: 1000      # doubles per failed try
//       max_backoff_ms: 300000
//       timeout_ms: 10000            # each try; one cut short by a crash or a stop is sent
//                                     #   again after timeout + max(timeout, 5 s)
//     tenants:
//       - name: acme
//         api_key: sk-acme            # also accepted as the server's bearer key
//         webhook_url: http://127.0.0.1:9000/hooks/acme
//         webhook_secret: whsec-acme
struct AsyncConfig {
  std::string store = "sqlite:tether-jobs.db";
  std::string worker_id;
  int32_t max_interactive = 1;
  double max_kv_use = 0.8;
  int32_t max_in_flight = 4;
  bool yield_to_prefill = true;
  int32_t prefill_chunk = 32;
  int64_t lease_ms = 30'000;
  int64_t poll_interval_ms = 200;
  int32_t max_attempts = 3;
  int64_t completion_window_ms = int64_t{24} * 3600 * 1000;
  std::vector<std::string> webhook_allow;
  std::string webhook_secret;
  int32_t webhook_max_attempts = 8;
  int64_t webhook_initial_backoff_ms = 1'000;
  int64_t webhook_max_backoff_ms = 300'000;
  int64_t webhook_timeout_ms = 10'000;
  std::vector<AsyncTenant> tenants;

  // Error(kInvalidArgument) naming the first bad value.
  void validate() const;
};

// Applies an `async:` mapping (keys not present keep their values).
void parse_async_config(const YAML::Node& node, std::string_view source, AsyncConfig& config);

}  // namespace tether::cli
