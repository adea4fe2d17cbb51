#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/json/object.hpp>

#include "http/exchange.h"
#include "http/router.h"
#include "store/job_store.h"

namespace tether::api {

class ApiService;

struct AsyncApiOptions {
  // Whether a model (id or alias) is served; unknown models get 400
  // model_not_found at submission. Unset: every model is taken.
  std::function<bool(const std::string& model)> model_exists;
  // The tenant of a request (the lead maps API keys); unset: "" for all.
  // Jobs and files are visible to their own tenant only.
  std::function<std::string(const http::Request& request)> tenant;
  // An error for a webhook URL that may not be used (off the allowlist),
  // nullopt when it may. Unset: every webhook is refused.
  std::function<std::optional<std::string>(const std::string& url)> check_webhook;
  // Webhook URLs every job of a tenant notifies (from the config, trusted:
  // not checked against the allowlist); unset: none.
  std::function<std::vector<std::string>(const std::string& tenant)> tenant_webhooks;
  // Called after a new job was committed (the dispatcher's wake()).
  std::function<void()> on_submitted;
  // Deadline of Workers AI and single jobs; batches name their own
  // (completion_window, "24h" by default). Zero: no deadline.
  std::chrono::milliseconds default_completion_window{std::chrono::hours(24)};
};

// The async routes over a durable job store (issue 7):
//   Workers AI  POST /ai/run/{model} with queueRequest (through ApiService)
//   OpenAI      POST /v1/files, GET /v1/files/{id}, GET /v1/files/{id}/content
//               POST /v1/batches, GET /v1/batches, GET /v1/batches/{id},
//               POST /v1/batches/{id}/cancel
//   single      POST /v1/chat/completions, /v1/completions with
//               "x-tether-async: true" (through ApiService) -> 202,
//               GET /v1/jobs, GET /v1/jobs/{id}, POST /v1/jobs/{id}/cancel
// A job is committed before it is acknowledged. Every store call runs on
// `pool` (store::run_blocking), never on a network thread. An
// Idempotency-Key header makes a resubmission answer the first job, with
// "idempotent-replayed: true". A webhook per job comes from the
// x-tether-webhook header (or "webhook_url" in a Workers AI body).
class AsyncApi {
 public:
  // `store` and `pool` must outlive the service.
  AsyncApi(store::JobStore& store, boost::asio::thread_pool& pool, AsyncApiOptions options);

  // Files, batches and jobs. The Workers AI and single submissions come
  // through ApiService (ApiService::set_async), which owns those routes.
  void register_routes(http::Router& router);

  // Whether a Workers AI request asks to be queued: queueRequest=true in the
  // query, "queueRequest": true in the body, or a poll ({"request_id"}).
  static bool is_workers_ai_async(const http::Request& request, const boost::json::object& body);
  // Whether an OpenAI request asks to run async: "x-tether-async: true".
  static bool is_async_request(const http::Request& request);

  // A Workers AI {"requests": [...]} submission or {"request_id"} poll.
  // Throws HttpError; the caller answers it in the Workers AI envelope.
  boost::asio::awaitable<void> serve_workers_ai(http::Exchange& exchange, std::string model,
                                                boost::json::object body);
  // One OpenAI request (already parsed and valid) as a "single" job: 202.
  boost::asio::awaitable<void> submit_single(http::Exchange& exchange, std::string endpoint, std::string model,
                                             bool stream, boost::json::object body);

 private:
  // Commits `job` for the request's tenant and Idempotency-Key, with a
  // deadline `window_ms` from now (0: none); wakes the dispatcher. A replay
  // of an earlier Idempotency-Key gets its job and "idempotent-replayed: true".
  boost::asio::awaitable<store::JobStore::Submitted> submit(http::Exchange& exchange, store::NewJob job,
                                                            int64_t window_ms);
  boost::asio::awaitable<std::optional<store::Job>> own_job(const http::Exchange& exchange, const std::string& id,
                                                            std::string_view kind);
  // The file, when it exists and is the request's tenant's.
  boost::asio::awaitable<std::optional<store::StoredFile>> own_file(const http::Exchange& exchange,
                                                                    const std::string& id);
  boost::asio::awaitable<void> upload_file(http::Exchange& exchange);
  boost::asio::awaitable<void> get_file(http::Exchange& exchange, bool content);
  boost::asio::awaitable<void> create_batch(http::Exchange& exchange);
  boost::asio::awaitable<void> get_batch(http::Exchange& exchange);
  boost::asio::awaitable<void> cancel(http::Exchange& exchange, std::string_view kind);
  boost::asio::awaitable<void> list(http::Exchange& exchange, std::string_view kind);
  boost::asio::awaitable<void> get_single(http::Exchange& exchange);

  std::string tenant(const http::Request& request) const;
  void check_model(const std::string& model) const;
  // The webhook URLs of a submission (the header's, then `body_url`),
  // each checked; 400 naming a refused one.
  std::vector<std::string> webhooks(const http::Request& request, const std::string& body_url) const;

  store::JobStore& store_;
  boost::asio::thread_pool& pool_;
  AsyncApiOptions options_;
};

// A model check for AsyncApiOptions::model_exists over the service's
// routes. While no model is loaded yet every name is taken (the queue waits
// for the model; a wrong name fails its items when they run).
std::function<bool(const std::string&)> served_model_check(const ApiService& service);

}  // namespace tether::api
