#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace tether::http {

struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;  // 0: an ephemeral port; Server::port() tells which
  int io_threads = 1;    // Asio threads; connections are coroutines, never a thread each
  size_t max_header_bytes = 16 * 1024;        // request line + headers; past it: 431
  size_t max_body_bytes = 8 * 1024 * 1024;    // past it: 413
  size_t max_connections = 1024;              // past it: 503 and close
  std::chrono::milliseconds header_timeout{10'000};  // first byte to end of headers
  std::chrono::milliseconds body_timeout{30'000};    // end of headers to end of body
  std::chrono::milliseconds idle_timeout{60'000};    // keep-alive wait for the next request
  std::chrono::milliseconds write_timeout{30'000};   // one write of the response
  // When set, every route outside public_paths needs "Authorization: Bearer <api_key>".
  std::string api_key;
  // Also accepted as bearer keys (the async API's tenants), with or without api_key.
  std::vector<std::string> extra_api_keys;
  std::vector<std::string> public_paths = {"/health", "/ready"};
  bool access_log = true;  // one line per request on stderr
};

}  // namespace tether::http
