#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "api/chat_request.h"
#include "api/model_route.h"
#include "api/request_preparer.h"
#include "api/served_model.h"
#include "http/exchange.h"
#include "http/router.h"
#include "metrics/registry.h"

namespace tether::api {

class ApiMetrics;
class AsyncApi;

// The inference routes over a set of served models:
//   GET  /v1/models
//   POST /v1/chat/completions, /v1/completions       (OpenAI)
//   POST /ai/run/{model...}, /accounts/{account}/ai/run/{model...}  (Workers AI)
// Each request's model has a route: its router picks a replica (a local
// engine or a remote upstream) by session affinity, cached prefix or load.
// On a local replica the request becomes an engine request (chat template,
// tokenization, grammar for structured outputs and forced tool calls) and
// its answer streams as SSE or comes whole; a client that goes away cancels
// its generation at once. An upstream gets the request as sent and its
// answer is relayed as it arrives. A request that fails before its answer
// began (a full engine, an upstream that is down, hangs or answers 5xx) is
// tried on the next replica of the router's order; one that began
// streaming never is. A request with `x-tether-priority: async` runs at
// the engine's async priority (after interactive requests, preempted by
// them); an upstream gets the header with the request.
class ApiService {
 public:
  // `metrics` may be null; it must outlive the service. Models may come
  // later (add_model, add_route): `tether serve` listens before its model
  // is loaded, and requests meanwhile get 503 with Retry-After.
  ApiService(std::vector<std::shared_ptr<ServedModel>> models, metrics::Registry* metrics);
  ~ApiService();

  void register_routes(http::Router& router);

  // Thread-safe. add_model routes to the model's local replicas only, with
  // the default routing options.
  void add_model(std::shared_ptr<ServedModel> model);
  void add_route(std::shared_ptr<ModelRoute> route);
  std::vector<std::shared_ptr<ModelRoute>> routes() const;
  // The local models of all routes.
  std::vector<std::shared_ptr<ServedModel>> models() const;
  // The route a request names (id or alias); 400 model_not_found otherwise,
  // 503 while no model is loaded yet.
  std::shared_ptr<ModelRoute> find_route(const std::string& name) const;

  // Hands async submissions on this service's routes to `async` (it must
  // outlive the service; null: none, and such requests get 400): Workers AI
  // requests with queueRequest (query or body) and {"request_id"} polls,
  // OpenAI requests with "x-tether-async: true". Thread-safe.
  void set_async(AsyncApi* async) { async_.store(async); }

 private:
  enum class LocalOutcome { kServed, kFull };
  boost::json::object models_body() const;
  boost::asio::awaitable<void> serve_workers_ai(http::Exchange& exchange);
  boost::asio::awaitable<void> serve(http::Exchange& exchange, ChatRequest request, boost::json::object body);
  boost::asio::awaitable<LocalOutcome> serve_local(http::Exchange& exchange, const ChatRequest& request,
                                                   const ServedModel& served, size_t replica,
                                                   PreparedRequest prepared, router::Router::Lease& lease);

  mutable std::mutex mutex_;  // guards routes_
  std::vector<std::shared_ptr<ModelRoute>> routes_;
  std::unique_ptr<ApiMetrics> metrics_;
  std::atomic<AsyncApi*> async_{nullptr};
};

// 400 model_not_found for a name no route answers to.
http::HttpError model_not_found(const std::string& name);

}  // namespace tether::api
