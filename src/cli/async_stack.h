#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/thread_pool.hpp>

#include "api/api_service.h"
#include "api/async_api.h"
#include "api/local_invoker.h"
#include "api/model_route.h"
#include "cli/async_config.h"
#include "http/router.h"
#include "jobs/dispatcher.h"
#include "jobs/webhook_allowlist.h"
#include "jobs/webhook_deliverer.h"
#include "metrics/registry.h"
#include "store/job_store.h"

namespace tether::cli {

// The async API of `tether serve`: the job store, the async routes, the
// dispatcher that pulls queued items into the engines while they have
// headroom, and webhook delivery.
class AsyncStack {
 public:
  // Opens the store (Error(kIo) when it cannot be opened) and registers the
  // async routes: jobs are accepted, and queue, before the model is loaded.
  // With `registry`, exports the dispatcher's counts (zero until start()):
  //   tether_async_items_total{state="claimed|succeeded|failed|cancelled|released|abandoned"}
  //   tether_async_in_flight
  // The registry must not be scraped after the stack is destroyed.
  AsyncStack(const AsyncConfig& config, api::ApiService& api, http::Router& router,
             metrics::Registry* registry = nullptr);
  ~AsyncStack();
  AsyncStack(const AsyncStack&) = delete;
  AsyncStack& operator=(const AsyncStack&) = delete;

  // Once the models are loaded: dispatch over `routes` and webhook delivery
  // start on `executor` (its io_context must run until stop()).
  void start(const std::vector<std::shared_ptr<api::ModelRoute>>& routes, boost::asio::any_io_executor executor);
  // Stops dispatch (items running go back to the queue) and delivery. Off
  // the executor's threads, while its io_context still runs. Idempotent;
  // thread-safe with start() (a start() after it starts nothing).
  void stop();

  // The tenant whose key a request carries ("" for the server's own key).
  std::string tenant_of(const http::Request& request) const;
  const std::string& worker_id() const { return worker_id_; }

 private:
  bool has_headroom(const api::ModelRoute& route) const;
  void register_metrics(metrics::Registry& registry);
  jobs::DispatcherStats dispatcher_stats() const;

  const AsyncConfig& config_;
  const http::Router& router_;
  std::string worker_id_;
  std::unique_ptr<store::JobStore> store_;
  boost::asio::thread_pool pool_;
  jobs::WebhookAllowlist allowlist_;
  std::unique_ptr<api::AsyncApi> async_api_;
  std::unique_ptr<api::LocalInvoker> invoker_;
  std::vector<std::shared_ptr<api::ModelRoute>> routes_;
  std::mutex mutex_;  // guards stopped_ and the making and stopping of the two below
  bool stopped_ = false;
  // Read without the mutex by the submit hook: set once, before any use.
  std::atomic<jobs::Dispatcher*> dispatcher_ptr_{nullptr};
  std::atomic<jobs::WebhookDeliverer*> deliverer_ptr_{nullptr};
  std::unique_ptr<jobs::Dispatcher> dispatcher_;
  std::unique_ptr<jobs::WebhookDeliverer> deliverer_;
};

// Every tenant's key, for ServerOptions::extra_api_keys.
std::vector<std::string> tenant_api_keys(const AsyncConfig& config);

}  // namespace tether::cli
