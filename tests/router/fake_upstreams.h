#pragma once

// Test helpers for routing over upstreams (header-only: the test binary globs
// only *_test.cpp): fake upstream handlers, a port nothing listens on, and
// affinity keys that prefer a given replica.

#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "../http/test_server.h"
#include "http/exchange.h"
#include "router/rendezvous.h"

namespace tether::testing {

inline boost::asio::awaitable<void> async_sleep(std::chrono::milliseconds duration) {
  boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor, duration);
  boost::system::error_code ec;
  co_await timer.async_wait(boost::asio::redirect_error(boost::asio::use_awaitable, ec));
}

// An upstream that accepts a request and never answers, until its client
// gives up (at most `limit`).
inline boost::asio::awaitable<void> hang_until_client_gone(http::Exchange& exchange,
                                                           std::chrono::milliseconds limit = std::chrono::seconds(5)) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (!exchange.client_gone() && std::chrono::steady_clock::now() < end) {
    co_await async_sleep(std::chrono::milliseconds(10));
  }
}

// An upstream whose stream sends one chunk with "partial" and then dies.
inline boost::asio::awaitable<void> die_mid_stream(http::Exchange& exchange) {
  co_await exchange.start_stream(200, "text/event-stream");
  co_await exchange.write("data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"partial\"}}]}\n\n");
  throw std::runtime_error("the upstream died");
}

// A port nothing listens on.
inline uint16_t closed_port() {
  TestServer probe;
  probe.start();
  const uint16_t port = probe.port();
  probe.stop();
  return port;
}

// The first key whose rendezvous order puts `first` first among `ids`.
inline std::string key_preferring(const std::vector<std::string>& ids, const std::string& first) {
  for (int i = 0; i < 10000; ++i) {
    const std::string key = "key-" + std::to_string(i);
    if (ids[router::rendezvous_order(key, ids).front()] == first) return key;
  }
  return {};
}

}  // namespace tether::testing
