#pragma once

#include <chrono>
#include <cstdint>
#include <memory>

#include <boost/asio/io_context.hpp>

#include "http/router.h"
#include "http/server_options.h"
#include "metrics/registry.h"

namespace tether::http {

// The HTTP/1.1 server: Boost.Beast parsing, one C++20 coroutine per
// connection on io_threads Asio threads. It enforces the limits and timeouts
// of ServerOptions, authenticates (bearer api_key), routes (404 / 405 with
// Allow), gives every response an x-request-id, writes one access-log line
// and records tether_http_requests_total{route,method,status} and
// tether_http_request_duration_seconds{route,method} per request.
//
// While a handler runs the server keeps reading the socket, so a client that
// hangs up is noticed at once (Exchange::client_gone, EventChannel::next
// returns nullopt), also when the handler is not writing.
//
// Usage: add routes to router(), start(), then run() on some thread (it
// blocks); stop() from any thread drains and makes run() return.
class Server {
 public:
  // `metrics` may be null (no metrics); it must outlive the server.
  explicit Server(ServerOptions options, metrics::Registry* metrics = nullptr);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Routes are added before start().
  Router& router();

  // Binds and listens; port() is known from here. Throws Error(kIo) when the
  // address cannot be bound, Error(kInvalidArgument) for a bad host.
  void start();
  // Serves on io_threads threads (this one included) until stop() has
  // drained every connection. Call once, after start().
  void run();
  // Thread-safe, idempotent. Stops accepting at once; idle keep-alive
  // connections close; in-flight requests may finish until now + grace
  // (their responses say Connection: close); then the rest are closed, which
  // their handlers see as the client gone. run() returns when all are done.
  void stop(std::chrono::milliseconds grace);

  uint16_t port() const;
  bool draining() const;
  size_t open_connections() const;
  const ServerOptions& options() const;
  boost::asio::io_context& io_context();

  class Impl;  // in server.cpp; public only so that its connections can name it

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace tether::http
