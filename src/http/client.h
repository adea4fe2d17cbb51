#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/json/value.hpp>

#include "http/exchange.h"

namespace tether::http {

struct ClientOptions {
  std::chrono::milliseconds connect_timeout{5'000};
  // Each write, and each wait for response bytes (also between stream chunks).
  std::chrono::milliseconds io_timeout{60'000};
  // The wait from a sent request to its response's headers (an engine may
  // compute a whole answer first); unset = io_timeout.
  std::optional<std::chrono::milliseconds> response_timeout;
  size_t max_header_bytes = 64 * 1024;
  size_t max_body_bytes = 64 * 1024 * 1024;  // whole responses only
};

struct ClientResponse {
  int status = 0;
  HeaderList headers;  // lower-case names
  std::string body;    // empty for a stream (read it with next_chunk)

  std::optional<std::string_view> header(std::string_view name) const;
};

// An HTTP/1.1 client for one host:port: one connection, reused while the
// server keeps it alive (and opened again when a reused one turns out
// closed before any response byte). Used by tests, benchmarks and, later,
// the router's upstreams. Not thread-safe: one request at a time, on the
// executor it was made with. Errors (connect, timeouts, malformed replies)
// throw Error(kIo) / Error(kCorruptData).
class HttpClient {
 public:
  HttpClient(boost::asio::any_io_executor executor, std::string host, uint16_t port, ClientOptions options = {});
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // A whole response.
  boost::asio::awaitable<ClientResponse> request(std::string_view method, std::string_view target,
                                                 std::string body = {}, HeaderList headers = {});
  boost::asio::awaitable<ClientResponse> post_json(std::string_view target, const boost::json::value& body,
                                                   HeaderList headers = {});

  // A streaming response: returns the status and headers; then next_chunk()
  // gives body bytes as they arrive, nullopt at the end. Finish (or close())
  // one stream before the next request.
  boost::asio::awaitable<ClientResponse> start(std::string_view method, std::string_view target,
                                               std::string body = {}, HeaderList headers = {});
  boost::asio::awaitable<std::optional<std::string>> next_chunk();

  // Drops the connection (e.g. to abandon a stream mid-way).
  void close();
  // Whether a kept-alive connection is open and idle (another request
  // would reuse it).
  bool idle_connection() const;
  // Moves the client, and its idle connection, onto `executor` (a pool
  // hands one client to requests running on different strands). Only
  // between requests; a connection that cannot move is closed.
  void rebind(boost::asio::any_io_executor executor);
  // Connections opened so far (tests check reuse).
  int connections_opened() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tether::http
