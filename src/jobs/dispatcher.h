#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/thread_pool.hpp>

#include "api/local_invoker.h"
#include "http/client_watch.h"
#include "store/job_store.h"

namespace tether::jobs {

// A model the dispatcher runs items of: jobs name it or one of its aliases.
struct DispatchModel {
  std::string name;
  std::vector<std::string> aliases;
};

struct DispatcherOptions {
  std::string owner;  // the lease owner: unique per process (e.g. host:pid:random)
  std::chrono::milliseconds poll_interval{200};  // looks for work at least this often
  int64_t lease_ms = 30'000;
  std::chrono::milliseconds renew_interval{0};  // 0 = lease_ms / 3
  int32_t max_in_flight = 16;                   // items running at once, all models together
  int32_t max_attempts = 3;                     // runs of an item that end in a server error, then it fails
  // requeue_expired_leases() and expire_overdue() run this often.
  std::chrono::milliseconds housekeeping_interval{1000};
  // A model whose item was released (engine full, server error) is not
  // claimed from for this long.
  std::chrono::milliseconds retry_backoff{1000};
};

struct DispatcherStats {
  uint64_t claimed = 0;
  uint64_t succeeded = 0;  // completed 2xx
  uint64_t failed = 0;     // completed as failed (4xx, or 5xx after max_attempts)
  uint64_t cancelled = 0;  // completed as cancelled (the job was cancelled while the item ran)
  uint64_t released = 0;   // handed back to the queue (load, a server error to retry, stop())
  uint64_t abandoned = 0;  // the lease was lost: nothing written
  int32_t in_flight = 0;
};

// Pulls queued job items from the store and runs them, as async requests,
// while the engines have room: the durable queue's consumer.
//
// One loop on a strand of `executor`: every poll interval (or at once after
// wake()), for each model in turn, while `gate` says the model has headroom
// and fewer than max_in_flight items run, it claims one item of that model
// and runs it concurrently through `invoke`; the response decides the item's
// outcome (see decide_item_outcome). Leases of running items are renewed
// every renew_interval: an item whose job was cancelled has its invocation
// cancelled (its watch marked gone) and is completed as cancelled; one whose
// lease was lost is cancelled and nothing is written for it. An item past
// its job's deadline once running finishes (the deadline is about starting).
// Store calls run on `store_pool` (store::run_blocking); a store error is
// logged and the loop goes on (an unwritten item's lease expires and it runs
// again).
//
// Server errors of an item are counted here (a release does not count an
// attempt in the store), together with the store's attempts (claims that
// ended in a lost lease, e.g. a crashed worker).
class Dispatcher {
 public:
  // Runs one item; must honour the watch (the invocation should end soon
  // after it is marked gone, which happens on the dispatcher's strand).
  using InvokeFn =
      std::function<boost::asio::awaitable<api::InvokeResult>(const store::Claim&, std::shared_ptr<http::ClientWatch>)>;
  // Whether `model` may take one more async item now, given the items of it
  // this dispatcher runs. Called on the strand; must not block.
  using GateFn = std::function<bool(const std::string& model, int32_t async_in_flight_for_model)>;

  // Error(kInvalidArgument) for bad options (no owner, no models, a
  // non-positive interval or limit). `store` and `store_pool` must outlive
  // the dispatcher.
  Dispatcher(boost::asio::any_io_executor executor, boost::asio::thread_pool& store_pool, store::JobStore& store,
             std::vector<DispatchModel> models, InvokeFn invoke, GateFn gate, DispatcherOptions options);
  // stop() unless it ran.
  ~Dispatcher();
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  // Starts the loop. Once.
  void start();
  // Any thread: look for work now (after a submit, or when an engine freed up).
  void wake();
  // Stops claiming, cancels running invocations and releases their items (a
  // restart runs them again; one that answered 2xx meanwhile is completed),
  // and returns when every item is written and the loop has ended. Await it
  // on any executor; the dispatcher's executor must keep running meanwhile.
  boost::asio::awaitable<void> async_stop();
  // The same, blocking: call it off the executor's threads (it waits on them).
  void stop();

  // Any thread.
  DispatcherStats stats() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace tether::jobs
