#include "cli/async_stack.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <random>

#include <fmt/format.h>

#include "common/constant_time.h"
#include "common/error.h"
#include "jobs/item_invocation.h"

namespace tether::cli {
namespace {

// host:pid:random, unless the config names the worker: a lease owner must
// differ between processes, also across a restart of the same one.
std::string make_worker_id(const std::string& configured) {
  if (!configured.empty()) return configured;
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) != 0) host[0] = '\0';
  std::random_device random;
  return fmt::format("{}:{}:{:08x}", host[0] ? host : "localhost", static_cast<long>(getpid()), random());
}

std::unique_ptr<store::JobStore> open_store(const std::string& url) {
  try {
    return store::open_job_store(url);
  } catch (const Error& e) {
    throw Error(e.code(), fmt::format("cannot open the async job store '{}' (set async.store or --store): {}", url,
                                      e.what()));
  }
}

}  // namespace

std::vector<std::string> tenant_api_keys(const AsyncConfig& config) {
  std::vector<std::string> keys;
  for (const AsyncTenant& tenant : config.tenants) keys.push_back(tenant.api_key);
  return keys;
}

AsyncStack::AsyncStack(const AsyncConfig& config, api::ApiService& api, http::Router& router,
                       metrics::Registry* registry)
    : config_(config),
      router_(router),
      worker_id_(make_worker_id(config.worker_id)),
      store_(open_store(config.store)),
      pool_(2),
      allowlist_(config.webhook_allow) {
  api::AsyncApiOptions options;
  options.model_exists = api::served_model_check(api);
  options.tenant = [this](const http::Request& request) { return tenant_of(request); };
  options.check_webhook = [this](const std::string& url) { return allowlist_.check(url); };
  options.tenant_webhooks = [this](const std::string& tenant) {
    std::vector<std::string> urls;
    for (const AsyncTenant& entry : config_.tenants) {
      if (entry.name == tenant && !entry.webhook_url.empty()) urls.push_back(entry.webhook_url);
    }
    return urls;
  };
  // Set once start() made them; a job submitted before only waits for the
  // dispatcher's first poll.
  options.on_submitted = [this] {
    if (jobs::Dispatcher* dispatcher = dispatcher_ptr_.load()) dispatcher->wake();
    if (jobs::WebhookDeliverer* deliverer = deliverer_ptr_.load()) deliverer->wake();
  };
  options.default_completion_window = std::chrono::milliseconds(config.completion_window_ms);
  async_api_ = std::make_unique<api::AsyncApi>(*store_, pool_, std::move(options));
  async_api_->register_routes(router);
  api.set_async(async_api_.get());
  if (registry) register_metrics(*registry);
}

jobs::DispatcherStats AsyncStack::dispatcher_stats() const {
  const jobs::Dispatcher* dispatcher = dispatcher_ptr_.load();
  return dispatcher ? dispatcher->stats() : jobs::DispatcherStats{};
}

void AsyncStack::register_metrics(metrics::Registry& registry) {
  registry.callback("tether_async_items_total",
                    "Async job items this process claimed, and how their runs ended (released: handed back to "
                    "the queue; abandoned: the lease was lost)",
                    "counter", {"state"}, [this] {
                      const jobs::DispatcherStats stats = dispatcher_stats();
                      auto sample = [](const char* state, uint64_t value) {
                        return metrics::Registry::Sample{{state}, static_cast<double>(value)};
                      };
                      return std::vector<metrics::Registry::Sample>{
                          sample("claimed", stats.claimed),     sample("succeeded", stats.succeeded),
                          sample("failed", stats.failed),       sample("cancelled", stats.cancelled),
                          sample("released", stats.released),   sample("abandoned", stats.abandoned)};
                    });
  registry.callback_gauge("tether_async_in_flight", "Async job items running in this process",
                          [this] { return static_cast<double>(dispatcher_stats().in_flight); });
}

AsyncStack::~AsyncStack() {
  stop();
  pool_.join();
}

std::string AsyncStack::tenant_of(const http::Request& request) const {
  const std::optional<std::string_view> token = request.bearer_token();
  if (!token) return {};
  std::string found;
  for (const AsyncTenant& tenant : config_.tenants) {
    if (constant_time_equals(*token, tenant.api_key)) found = tenant.name;
  }
  return found;
}

bool AsyncStack::has_headroom(const api::ModelRoute& route) const {
  // (The dispatcher bounds the items in flight by max_in_flight itself.)
  if (!route.local) return true;  // upstreams only: the in-flight bound is all we know
  // Pulled, not pushed: one more async sequence only while some replica runs
  // few interactive sequences and has KV room to spare.
  for (const auto& engine : route.local->engines) {
    const sched::EngineStats stats = engine->stats();
    const int32_t interactive = (stats.running - stats.running_async) + (stats.waiting - stats.waiting_async);
    const double kv_use =
        stats.kv.total_blocks > 0 ? static_cast<double>(stats.kv.used_blocks) / stats.kv.total_blocks : 0.0;
    const int32_t async_queued = stats.waiting_async;
    if (interactive < config_.max_interactive && kv_use < config_.max_kv_use && async_queued == 0) return true;
  }
  return false;
}

void AsyncStack::start(const std::vector<std::shared_ptr<api::ModelRoute>>& routes,
                       boost::asio::any_io_executor executor) {
  std::lock_guard lock(mutex_);
  if (stopped_) return;
  routes_ = routes;
  std::vector<jobs::DispatchModel> models;
  for (const auto& route : routes_) models.push_back({route->id, route->aliases});
  invoker_ = std::make_unique<api::LocalInvoker>(router_);
  jobs::DispatcherOptions options;
  options.owner = worker_id_;
  options.poll_interval = std::chrono::milliseconds(config_.poll_interval_ms);
  options.lease_ms = config_.lease_ms;
  options.max_in_flight = config_.max_in_flight;
  options.max_attempts = config_.max_attempts;
  auto gate = [this](const std::string& model, int32_t) {
    for (const auto& route : routes_) {
      if (route->id == model) return has_headroom(*route);
    }
    return false;
  };
  if (!models.empty()) {
    dispatcher_ = std::make_unique<jobs::Dispatcher>(executor, pool_, *store_, std::move(models),
                                                     jobs::local_invoke_fn(*invoker_), gate, options);
    dispatcher_->start();
    dispatcher_ptr_.store(dispatcher_.get());
  }

  jobs::WebhookDelivererOptions webhook;
  webhook.owner = worker_id_;
  webhook.poll_interval = std::chrono::milliseconds(std::max<int64_t>(config_.poll_interval_ms, 500));
  webhook.max_attempts = config_.webhook_max_attempts;
  webhook.initial_backoff = std::chrono::milliseconds(config_.webhook_initial_backoff_ms);
  webhook.max_backoff = std::chrono::milliseconds(config_.webhook_max_backoff_ms);
  webhook.request_timeout = std::chrono::milliseconds(config_.webhook_timeout_ms);
  // A delivery is claimed only when it can be sent at once, so its hold
  // needs to cover one try (and the store write after it), not the
  // deliverer's 60 s default: a try cut short by a crash or a stop is sent
  // again this soon after.
  webhook.lease = webhook.request_timeout + std::max<std::chrono::milliseconds>(webhook.request_timeout,
                                                                                std::chrono::seconds(5));
  // A tenant's secret signs its events; the async secret signs the rest.
  auto secret_for = [this](const store::Delivery& delivery) {
    for (const AsyncTenant& tenant : config_.tenants) {
      if (tenant.name == delivery.tenant && !tenant.webhook_secret.empty()) return tenant.webhook_secret;
    }
    return config_.webhook_secret;
  };
  // Tenants' own webhooks come from the config: trusted like the allowlist.
  std::vector<std::string> allowed = config_.webhook_allow;
  for (const AsyncTenant& tenant : config_.tenants) {
    if (!tenant.webhook_url.empty()) allowed.push_back(tenant.webhook_url);
  }
  deliverer_ = std::make_unique<jobs::WebhookDeliverer>(executor, *store_, pool_, jobs::WebhookAllowlist(allowed),
                                                        secret_for, webhook);
  deliverer_->start();
  deliverer_ptr_.store(deliverer_.get());
}

void AsyncStack::stop() {
  std::lock_guard lock(mutex_);
  stopped_ = true;
  if (dispatcher_) dispatcher_->stop();
  if (deliverer_) deliverer_->stop();
}

}  // namespace tether::cli
