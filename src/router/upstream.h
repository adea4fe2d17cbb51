#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>

#include "http/client.h"
#include "http/exchange.h"

namespace tether::router {

struct UpstreamOptions {
  std::string id;         // its name in metrics and logs; "" = "host:port"
  std::string url;        // http://host[:port][/base-path]; a trailing /v1 (an OpenAI base URL) is dropped
  std::string model;      // the model name sent upstream; "" = the client's
  std::string api_key;    // bearer sent upstream; "" = none
  bool workers_ai = false;  // it answers /ai/run/... too (another tether serve)
  std::chrono::milliseconds connect_timeout{2'000};
  std::chrono::milliseconds response_timeout{300'000};  // request sent -> response headers
  std::chrono::milliseconds idle_timeout{60'000};       // between body chunks
  size_t max_idle_connections = 16;                     // keep-alive pool
  std::string health_path = "/health";
  std::chrono::milliseconds health_interval{5'000};
};

// How one proxied request went.
struct ProxyResult {
  enum class Status {
    kRelayed,               // the upstream's answer (any 2xx-4xx but 429) reached the client
    kFailedBeforeResponse,  // nothing was written to the client: try another replica
    kFailedMidStream,       // part of the answer was relayed, then the upstream failed: never retried
    kClientGone,            // the client went away; the upstream connection was closed
  };
  Status status = Status::kRelayed;
  int upstream_status = 0;
  std::string error;       // one line, for failures
  std::string error_kind;  // "connect", "timeout", "status", "protocol", "io"
  std::optional<int64_t> prompt_tokens, cached_tokens;  // from the relayed usage, when it had one
};

// A remote engine: another `tether serve`, or any OpenAI-compatible server
// (vLLM, SGLang, llama-server). Requests go to it over a pool of keep-alive
// connections; answers are relayed to the client as they arrive.
// Thread-safe: requests on any strand may proxy at the same time.
class Upstream {
 public:
  // Error(kInvalidArgument) for a URL that is not http://host[:port][/path].
  explicit Upstream(UpstreamOptions options);
  ~Upstream();
  Upstream(const Upstream&) = delete;
  Upstream& operator=(const Upstream&) = delete;

  const UpstreamOptions& options() const { return options_; }
  const std::string& id() const { return options_.id; }
  const std::string& host() const { return host_; }
  uint16_t port() const { return port_; }

  // POSTs `body` (its "model" replaced by options().model when that is set)
  // to the base path + `target` and relays the answer to `exchange`: status,
  // content type and body; an event stream chunk by chunk as it arrives.
  // Sends the upstream's own bearer (never the client's) and forwards
  // x-request-id and x-session-affinity. Connect errors, timeouts before the
  // response headers, 5xx and 429 answers are kFailedBeforeResponse with
  // nothing written to the exchange; other statuses are relayed. A client
  // that goes away closes the upstream connection, so the upstream cancels.
  boost::asio::awaitable<ProxyResult> proxy(http::Exchange& exchange, std::string_view target,
                                            const boost::json::object& body);

  // GET health_path (a fresh connection, within the connect and response
  // timeouts); true on 2xx.
  boost::asio::awaitable<bool> probe();

  // Connections opened so far, and idle ones pooled now (tests).
  int connections_opened() const;
  size_t idle_connections() const;

 private:
  std::unique_ptr<http::HttpClient> acquire(const boost::asio::any_io_executor& executor);
  void release(std::unique_ptr<http::HttpClient> client);
  http::ClientOptions client_options() const;

  UpstreamOptions options_;
  std::string host_;
  uint16_t port_ = 80;
  std::string base_path_;  // without a trailing '/'

  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<http::HttpClient>> idle_;
  std::atomic<int> opened_{0};
};

// Usage from an OpenAI or Workers AI answer object ("usage", or
// "result.usage"): prompt tokens and cached prompt tokens, where present.
struct RelayedUsage {
  std::optional<int64_t> prompt_tokens, cached_tokens, completion_tokens;
};
RelayedUsage usage_of(const boost::json::value& answer);

}  // namespace tether::router
