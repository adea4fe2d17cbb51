#pragma once

// A webhook receiver for the deliverer's tests (header-only: the test
// binary globs only *_test.cpp): an http::Server on port 0 that checks every
// request's signature with verify() and records what it saw.
//   POST /hooks  answers the scripted statuses in turn, then 200
//   POST /slow   holds each request `hold` before answering 200
//   POST /hang   never answers (until the client goes)

#include <algorithm>
#include <chrono>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "../router/fake_upstreams.h"
#include "jobs/webhook_signer.h"

namespace tether::testing {

struct ReceivedWebhook {
  std::string path, event_id, timestamp, signature, content_type, body;
  bool signature_valid = false;
};

class WebhookReceiver {
 public:
  // `now_s`: the receiver's clock for the timestamp check (unset = system).
  explicit WebhookReceiver(std::string secret, std::function<int64_t()> now_s = {})
      : secret_(std::move(secret)), now_s_(std::move(now_s)) {
    server_.router().add("POST", "/hooks", [this](http::Exchange& exchange) -> boost::asio::awaitable<void> {
      const int status = record(exchange);
      co_await exchange.respond(status, status == 200 ? "ok" : "try again");
    });
    server_.router().add("POST", "/slow", [this](http::Exchange& exchange) -> boost::asio::awaitable<void> {
      record(exchange);
      {
        std::lock_guard lock(mutex_);
        max_concurrent_ = std::max(max_concurrent_, ++concurrent_);
      }
      co_await async_sleep(hold_);
      {
        std::lock_guard lock(mutex_);
        --concurrent_;
      }
      co_await exchange.respond(200, "ok");
    });
    server_.router().add("POST", "/hang", [this](http::Exchange& exchange) -> boost::asio::awaitable<void> {
      record(exchange);
      co_await hang_until_client_gone(exchange);
    });
    server_.start();
  }

  uint16_t port() const { return server_.port(); }
  std::string url(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(port()) + path; }

  void script(std::vector<int> statuses) {
    std::lock_guard lock(mutex_);
    statuses_.assign(statuses.begin(), statuses.end());
  }
  void set_hold(std::chrono::milliseconds hold) { hold_ = hold; }

  std::vector<ReceivedWebhook> received() {
    std::lock_guard lock(mutex_);
    return received_;
  }
  size_t count() {
    std::lock_guard lock(mutex_);
    return received_.size();
  }
  int max_concurrent() {
    std::lock_guard lock(mutex_);
    return max_concurrent_;
  }

 private:
  int record(http::Exchange& exchange) {
    const http::Request& request = exchange.request();
    ReceivedWebhook seen;
    seen.path = request.path;
    seen.event_id = std::string(request.header("x-tether-event-id").value_or(""));
    seen.timestamp = std::string(request.header("x-tether-timestamp").value_or(""));
    seen.signature = std::string(request.header("x-tether-signature").value_or(""));
    seen.content_type = std::string(request.header("content-type").value_or(""));
    seen.body = request.body;
    int64_t timestamp_s = 0;
    try {
      timestamp_s = std::stoll(seen.timestamp);
    } catch (const std::exception&) {
      timestamp_s = -1;
    }
    const int64_t now_s = now_s_ ? now_s_()
                                 : std::chrono::duration_cast<std::chrono::seconds>(
                                       std::chrono::system_clock::now().time_since_epoch())
                                       .count();
    seen.signature_valid =
        timestamp_s >= 0 && jobs::verify(secret_, seen.signature, timestamp_s, seen.body, now_s, 300);
    std::lock_guard lock(mutex_);
    received_.push_back(std::move(seen));
    if (statuses_.empty()) return 200;
    const int status = statuses_.front();
    statuses_.pop_front();
    return status;
  }

  std::string secret_;
  std::function<int64_t()> now_s_;
  std::chrono::milliseconds hold_{50};
  std::mutex mutex_;
  std::deque<int> statuses_;
  std::vector<ReceivedWebhook> received_;
  int concurrent_ = 0;
  int max_concurrent_ = 0;
  TestServer server_;  // last: destroyed (stopped) first, while the handlers' state lives
};

}  // namespace tether::testing
