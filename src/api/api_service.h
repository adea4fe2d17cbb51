#pragma once

#include <memory>
#include <mutex>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "api/chat_request.h"
#include "api/served_model.h"
#include "http/exchange.h"
#include "http/router.h"
#include "metrics/registry.h"

namespace tether::api {

class ApiMetrics;

// The inference routes over a set of served models:
//   GET  /v1/models
//   POST /v1/chat/completions, /v1/completions       (OpenAI)
//   POST /ai/run/{model...}, /accounts/{account}/ai/run/{model...}  (Workers AI)
// Requests become engine requests (chat template, tokenization, grammar for
// structured outputs and forced tool calls); answers stream as SSE or come
// whole; a client that goes away cancels its generation at once.
class ApiService {
 public:
  // `metrics` may be null; it must outlive the service. Models may come
  // later (add_model): `tether serve` listens before its model is loaded,
  // and requests meanwhile get 503 with Retry-After.
  ApiService(std::vector<std::shared_ptr<ServedModel>> models, metrics::Registry* metrics);
  ~ApiService();

  void register_routes(http::Router& router);

  // Thread-safe.
  void add_model(std::shared_ptr<ServedModel> model);
  std::vector<std::shared_ptr<ServedModel>> models() const;
  // The model a request names (id or alias); 400 model_not_found otherwise,
  // 503 while no model is loaded yet.
  std::shared_ptr<ServedModel> find_model(const std::string& name) const;

 private:
  boost::json::object models_body() const;
  boost::asio::awaitable<void> serve_workers_ai(http::Exchange& exchange);
  boost::asio::awaitable<void> serve(http::Exchange& exchange, ChatRequest request);

  mutable std::mutex mutex_;  // guards models_
  std::vector<std::shared_ptr<ServedModel>> models_;
  std::unique_ptr<ApiMetrics> metrics_;
};

}  // namespace tether::api
