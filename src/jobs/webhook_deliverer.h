#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/thread_pool.hpp>

#include "jobs/webhook_allowlist.h"
#include "store/job_store.h"

namespace tether::jobs {

struct WebhookDelivererOptions {
  std::string owner = "webhooks";  // holds claimed deliveries in the store; unique per process
  std::chrono::milliseconds poll_interval{1'000};
  int32_t batch_limit = 32;   // deliveries claimed at once
  int32_t max_in_flight = 16;  // POSTs under way at once
  std::chrono::milliseconds lease{60'000};  // a claimed delivery's hold; past it another deliverer may send it
  int32_t max_attempts = 8;                 // the last failed try makes a delivery dead
  std::chrono::milliseconds initial_backoff{1'000};
  std::chrono::milliseconds max_backoff{300'000};
  std::chrono::milliseconds request_timeout{10'000};  // connect to response, each try
  // Unix milliseconds: signature timestamps and retry times. Unset = the system clock.
  std::function<int64_t()> clock;
  bool log = true;  // a line on stderr for each failed try
};

// Sends the store's pending webhook deliveries: claims them in batches,
// POSTs each body as stored with
//   content-type: application/json
//   x-tether-event-id: <event id>
//   x-tether-timestamp: <unix seconds>
//   x-tether-signature: v1=<hex HMAC-SHA256(secret, timestamp "." body)>
// and records the outcome: a 2xx delivers it; anything else (another
// status, a connect error, a timeout) is a failed try, retried after
// initial_backoff * 2^(tries before it), capped at max_backoff, until the
// max_attempts-th failed try makes it dead. A URL that the allowlist refuses
// (checked again at send time: the configuration may have changed since the
// submit) or that is https (not supported yet) goes dead without being sent.
//
// Runs on a strand of `executor`; store calls run on `pool` (they block).
// `secret_for` gives the signing secret of a delivery (per tenant); when it
// throws, the try fails with its message.
class WebhookDeliverer {
 public:
  using SecretFor = std::function<std::string(const store::Delivery&)>;

  // `store` and `pool` must outlive the deliverer.
  WebhookDeliverer(boost::asio::any_io_executor executor, store::JobStore& store, boost::asio::thread_pool& pool,
                   WebhookAllowlist allowlist, SecretFor secret_for, WebhookDelivererOptions options = {});
  ~WebhookDeliverer();  // stop()
  WebhookDeliverer(const WebhookDeliverer&) = delete;
  WebhookDeliverer& operator=(const WebhookDeliverer&) = delete;

  // Starts polling (the first poll at once). Once; not after stop().
  void start();
  // Thread-safe, idempotent. Stops polling and cancels the POSTs under way
  // (their deliveries stay claimed until the lease ends, then are sent
  // again: delivery is at least once). Waits until the polling loop and
  // every send have ended, store calls included, unless called from the
  // deliverer's strand; the executor must keep running meanwhile.
  void stop();
  // Thread-safe: polls now (a new job's events need not wait poll_interval).
  void wake();

  struct State;  // shared with the polling loop and the sends

 private:
  std::shared_ptr<State> state_;
};

}  // namespace tether::jobs
