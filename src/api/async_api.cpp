#include "api/async_api.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <utility>

#include <boost/json/serialize.hpp>
#include <fmt/format.h>

#include "api/api_service.h"
#include "api/async_views.h"
#include "api/batch_input.h"
#include "api/chat_request.h"
#include "common/ascii.h"
#include "http/http_error.h"
#include "http/json_body.h"
#include "http/multipart.h"
#include "store/blocking.h"

// GCC 12 takes the frame allocation of Asio's awaitable for a mismatched
// new/delete pair; Asio allocates and frees it with its own matching operators.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace tether::api {

namespace {

constexpr size_t kMaxIdempotencyKeyChars = 255;
constexpr size_t kMaxWebhooks = 8;
constexpr size_t kMaxFilenameChars = 255;
constexpr size_t kMaxMetadataPairs = 16;
constexpr size_t kMaxMetadataKeyChars = 64;
constexpr size_t kMaxMetadataValueChars = 512;
constexpr int32_t kMaxListLimit = 100;
constexpr int32_t kDefaultListLimit = 20;
constexpr const char* kWebhookHeader = "x-tether-webhook";

http::HttpError not_found(std::string_view what, std::string_view id) {
  return http::HttpError(404, fmt::format("no {} '{}'", what, id), "invalid_request_error", {}, "not_found");
}

bool is_true(std::string_view text) {
  const std::string lowered = ascii_lower(text);
  return lowered == "true" || lowered == "1";
}

bool printable(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](unsigned char c) { return c >= 0x20 && c != 0x7F; });
}

std::string metadata_text(const boost::json::value* metadata) {
  if (metadata == nullptr || metadata->is_null()) return {};
  if (!metadata->is_object()) throw http::HttpError::bad_request("'metadata' must be an object of strings", "metadata");
  const boost::json::object& pairs = metadata->as_object();
  if (pairs.size() > kMaxMetadataPairs) {
    throw http::HttpError::bad_request(fmt::format("'metadata' holds at most {} pairs", kMaxMetadataPairs),
                                       "metadata");
  }
  for (const auto& pair : pairs) {
    if (pair.key().size() > kMaxMetadataKeyChars || !pair.value().is_string() ||
        pair.value().as_string().size() > kMaxMetadataValueChars) {
      throw http::HttpError::bad_request(
          fmt::format("'metadata' keys have at most {} characters and values are strings of at most {}",
                      kMaxMetadataKeyChars, kMaxMetadataValueChars),
          "metadata");
    }
  }
  return boost::json::serialize(pairs);
}

int32_t list_limit(const http::Request& request) {
  const std::optional<std::string_view> text = request.query_param("limit");
  if (!text) return kDefaultListLimit;
  int32_t limit = 0;
  const auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), limit);
  if (ec != std::errc() || end != text->data() + text->size() || limit < 1 || limit > kMaxListLimit) {
    throw http::HttpError::bad_request(fmt::format("'limit' must be a whole number from 1 to {}", kMaxListLimit),
                                       "limit");
  }
  return limit;
}

std::optional<store::JobStatus> status_filter(const http::Request& request) {
  const std::optional<std::string_view> text = request.query_param("status");
  if (!text || text->empty()) return std::nullopt;
  try {
    return store::parse_job_status(*text);
  } catch (const Error&) {
    throw http::HttpError::bad_request(
        fmt::format("'status' must be queued, running, succeeded, failed, cancelled or expired, not '{}'", *text),
        "status");
  }
}

// Jobs of one tenant (and kind, when given), newest first, after `after`.
struct JobPage {
  std::vector<store::Job> jobs;
  bool has_more = false;
};
JobPage list_page(store::JobStore& store, const std::string& tenant, std::optional<store::JobStatus> status,
                  std::string_view kind, int32_t limit, std::string after) {
  // One more than the page tells whether there are more.
  store::JobFilter filter;
  filter.status = status;
  filter.tenant = tenant;
  filter.kind = std::string(kind);
  filter.limit = limit + 1;
  filter.after = std::move(after);
  JobPage page;
  page.jobs = store.list_jobs(filter);
  if (static_cast<int32_t>(page.jobs.size()) > limit) {
    page.jobs.resize(static_cast<size_t>(limit));
    page.has_more = true;
  }
  return page;
}

http::HttpError with_context(const http::HttpError& error, const std::string& context) {
  return http::HttpError(error.status(), context + ": " + error.what(), error.type(),
                         error.param().empty() ? context : context + "." + error.param(), error.code());
}

}  // namespace

AsyncApi::AsyncApi(store::JobStore& store, boost::asio::thread_pool& pool, AsyncApiOptions options)
    : store_(store), pool_(pool), options_(std::move(options)) {}

void AsyncApi::register_routes(http::Router& router) {
  router.add("POST", "/v1/files", [this](http::Exchange& exchange) { return upload_file(exchange); });
  router.add("GET", "/v1/files/{id}", [this](http::Exchange& exchange) { return get_file(exchange, false); });
  router.add("GET", "/v1/files/{id}/content", [this](http::Exchange& exchange) { return get_file(exchange, true); });
  router.add("POST", "/v1/batches", [this](http::Exchange& exchange) { return create_batch(exchange); });
  router.add("GET", "/v1/batches", [this](http::Exchange& exchange) { return list(exchange, "batch"); });
  router.add("GET", "/v1/batches/{id}", [this](http::Exchange& exchange) { return get_batch(exchange); });
  router.add("POST", "/v1/batches/{id}/cancel", [this](http::Exchange& exchange) { return cancel(exchange, "batch"); });
  router.add("GET", "/v1/jobs", [this](http::Exchange& exchange) { return list(exchange, ""); });
  router.add("GET", "/v1/jobs/{id}", [this](http::Exchange& exchange) { return get_single(exchange); });
  router.add("POST", "/v1/jobs/{id}/cancel", [this](http::Exchange& exchange) { return cancel(exchange, ""); });
}

bool AsyncApi::is_workers_ai_async(const http::Request& request, const boost::json::object& body) {
  if (const auto query = request.query_param("queueRequest"); query && is_true(*query)) return true;
  if (const boost::json::value* flag = body.if_contains("queueRequest"); flag != nullptr && flag->is_bool()) {
    if (flag->as_bool()) return true;
  }
  return body.contains("request_id") && !body.contains("messages") && !body.contains("prompt");
}

bool AsyncApi::is_async_request(const http::Request& request) {
  const std::optional<std::string_view> header = request.header("x-tether-async");
  return header && is_true(*header);
}

std::string AsyncApi::tenant(const http::Request& request) const {
  return options_.tenant ? options_.tenant(request) : std::string();
}

void AsyncApi::check_model(const std::string& model) const {
  if (!options_.model_exists || options_.model_exists(model)) return;
  throw model_not_found(model);
}

std::vector<std::string> AsyncApi::webhooks(const http::Request& request, const std::string& body_url) const {
  std::vector<std::pair<std::string, std::string>> urls;  // (url, where it came from)
  for (const auto& [name, value] : request.headers) {
    if (name == kWebhookHeader) urls.emplace_back(value, kWebhookHeader);
  }
  if (!body_url.empty()) urls.emplace_back(body_url, "webhook_url");
  if (urls.size() > kMaxWebhooks) {
    throw http::HttpError::bad_request(fmt::format("a job takes at most {} webhooks", kMaxWebhooks), kWebhookHeader);
  }
  std::vector<std::string> out;
  for (auto& [url, param] : urls) {
    std::optional<std::string> refusal =
        options_.check_webhook ? options_.check_webhook(url)
                               : std::optional<std::string>("webhooks are not enabled on this server");
    if (refusal) {
      throw http::HttpError(400, fmt::format("webhook URL '{}' is refused: {}", url, *refusal),
                            "invalid_request_error", param, "webhook_refused");
    }
    if (std::find(out.begin(), out.end(), url) == out.end()) out.push_back(std::move(url));
  }
  return out;
}

boost::asio::awaitable<store::JobStore::Submitted> AsyncApi::submit(http::Exchange& exchange,
                                                                     store::NewJob job, int64_t window_ms) {
  job.tenant = tenant(exchange.request());
  if (options_.tenant_webhooks) {
    for (std::string& url : options_.tenant_webhooks(job.tenant)) {
      if (std::find(job.webhook_urls.begin(), job.webhook_urls.end(), url) == job.webhook_urls.end()) {
        job.webhook_urls.push_back(std::move(url));
      }
    }
  }
  if (const auto key = exchange.request().header("idempotency-key")) {
    if (key->empty() || key->size() > kMaxIdempotencyKeyChars || !printable(*key)) {
      throw http::HttpError::bad_request(
          fmt::format("Idempotency-Key must have 1 to {} printable characters", kMaxIdempotencyKeyChars),
          "Idempotency-Key");
    }
    job.idempotency_key = std::string(*key);
  }
  const std::string kind = job.kind;
  // (Calls on the pool borrow from this frame: GCC 12 destroys the class
  // members of a closure passed through run_blocking twice, so closures
  // here hold only pointers.)
  store::NewJob* pending = &job;
  store::JobStore::Submitted submitted = co_await store::run_blocking(pool_, [this, window_ms, pending] {
    // The deadline counts from the store's clock.
    pending->deadline_ms = window_ms > 0 ? store_.now_ms() + window_ms : 0;
    return store_.submit(*pending);
  });
  if (submitted.existing && submitted.job.kind != kind) {
    throw http::HttpError(409,
                          fmt::format("this Idempotency-Key was used for another kind of request (job '{}')",
                                      submitted.job.id),
                          "invalid_request_error", "Idempotency-Key", "idempotency_key_reused");
  }
  if (submitted.existing) {
    exchange.add_response_header("idempotent-replayed", "true");
  } else if (options_.on_submitted) {
    options_.on_submitted();
  }
  co_return submitted;
}

boost::asio::awaitable<std::optional<store::Job>> AsyncApi::own_job(const http::Exchange& exchange,
                                                                    const std::string& id, std::string_view kind) {
  std::optional<store::Job> job = co_await store::run_blocking(pool_, [this, key = &id] { return store_.get_job(*key); });
  if (!job || job->tenant != tenant(exchange.request()) || (!kind.empty() && job->kind != kind)) {
    co_return std::nullopt;
  }
  co_return job;
}

boost::asio::awaitable<std::optional<store::StoredFile>> AsyncApi::own_file(const http::Exchange& exchange,
                                                                           const std::string& id) {
  std::optional<store::StoredFile> file =
      co_await store::run_blocking(pool_, [this, key = &id] { return store_.get_file(*key); });
  if (!file || file->tenant != tenant(exchange.request())) co_return std::nullopt;
  co_return file;
}

// Workers AI ---------------------------------------------------------------

namespace {

struct WorkersAiBatch {
  std::vector<store::NewItem> items;
  std::string webhook_url;
};

// The items of {"requests": [...]}: each a Workers AI input, checked as
// one, its "external_reference" kept as the custom id.
WorkersAiBatch workers_ai_items(const boost::json::object& body, const std::string& model) {
  const boost::json::value* requests = body.if_contains("requests");
  if (requests == nullptr || !requests->is_array() || requests->as_array().empty()) {
    throw http::HttpError::bad_request("a queued request needs 'requests': a non-empty array of inputs", "requests");
  }
  const boost::json::array& inputs = requests->as_array();
  if (inputs.size() > kMaxBatchRequests) {
    throw http::HttpError::bad_request(fmt::format("'requests' holds at most {} inputs", kMaxBatchRequests),
                                       "requests");
  }
  WorkersAiBatch batch;
  if (const boost::json::value* url = body.if_contains("webhook_url"); url != nullptr && !url->is_null()) {
    if (!url->is_string()) throw http::HttpError::bad_request("'webhook_url' must be a string", "webhook_url");
    batch.webhook_url = std::string(url->as_string());
  }
  for (size_t index = 0; index < inputs.size(); ++index) {
    const std::string context = fmt::format("requests[{}]", index);
    if (!inputs[index].is_object()) throw http::HttpError::bad_request(context + " must be an object", context);
    boost::json::object input = inputs[index].as_object();
    store::NewItem item;
    if (const boost::json::value* reference = input.if_contains("external_reference")) {
      if (!reference->is_null()) item.custom_id = boost::json::serialize(*reference);
      input.erase("external_reference");
    }
    try {
      parse_workers_ai_request(input, model);
    } catch (const http::HttpError& error) {
      throw with_context(error, context);
    }
    item.request = boost::json::serialize(input);
    batch.items.push_back(std::move(item));
  }
  return batch;
}

}  // namespace

boost::asio::awaitable<void> AsyncApi::serve_workers_ai(http::Exchange& exchange, std::string model,
                                                        boost::json::object body) {
  if (const boost::json::value* request_id = body.if_contains("request_id"); request_id != nullptr) {
    if (!request_id->is_string()) throw http::HttpError::bad_request("'request_id' must be a string", "request_id");
    const std::string id(request_id->as_string());
    std::optional<store::Job> job = co_await own_job(exchange, id, "workers_ai");
    if (!job) throw not_found("queued request", id);
    if (!store::is_terminal(job->status)) {
      co_await exchange.respond_json(200, workers_ai_status_json(*job));
      co_return;
    }
    const std::vector<store::Item> items =
        co_await store::run_blocking(pool_, [this, key = &id] { return store_.get_items(*key); });
    co_await exchange.respond_json(200, workers_ai_responses_json(*job, items));
    co_return;
  }
  check_model(model);
  WorkersAiBatch batch = workers_ai_items(body, model);
  store::NewJob job;
  job.kind = "workers_ai";
  job.model = model;
  job.endpoint = "/ai/run";
  job.webhook_urls = webhooks(exchange.request(), batch.webhook_url);
  job.items = std::move(batch.items);
  const store::JobStore::Submitted submitted = co_await submit(exchange, std::move(job), options_.default_completion_window.count());
  co_await exchange.respond_json(200, workers_ai_status_json(submitted.job));
}

// Single async requests -----------------------------------------------------

boost::asio::awaitable<void> AsyncApi::submit_single(http::Exchange& exchange, std::string endpoint,
                                                     std::string model, bool stream, boost::json::object body) {
  if (stream) {
    throw http::HttpError::bad_request(
        "'stream' cannot be used with x-tether-async: an async request's answer is polled at GET /v1/jobs/{id}",
        "stream");
  }
  check_model(model);
  store::NewJob job;
  job.kind = "single";
  job.model = model;
  job.endpoint = std::move(endpoint);
  job.webhook_urls = webhooks(exchange.request(), {});
  store::NewItem item;
  item.request = boost::json::serialize(body);
  job.items.push_back(std::move(item));
  const store::JobStore::Submitted submitted = co_await submit(exchange, std::move(job), options_.default_completion_window.count());
  exchange.add_response_header("location", "/v1/jobs/" + submitted.job.id);
  co_await exchange.respond_json(202, job_json(submitted.job, nullptr));
}

boost::asio::awaitable<void> AsyncApi::get_single(http::Exchange& exchange) {
  const std::string id(exchange.request().path_param("id"));
  std::optional<store::Job> job = co_await own_job(exchange, id, "");
  if (!job) throw not_found("job", id);
  std::vector<store::Item> items;
  if (job->kind == "single" && store::is_terminal(job->status)) {
    items = co_await store::run_blocking(pool_, [this, key = &id] { return store_.get_items(*key); });
  }
  co_await exchange.respond_json(200, job_json(*job, items.empty() ? nullptr : &items.front()));
}

// Jobs and batches: list and cancel --------------------------------------

boost::asio::awaitable<void> AsyncApi::list(http::Exchange& exchange, std::string_view kind) {
  const int32_t limit = list_limit(exchange.request());
  const std::optional<store::JobStatus> status = status_filter(exchange.request());
  const std::string after(exchange.request().query_param("after").value_or(""));
  const std::string owner = tenant(exchange.request());
  const std::string kind_name(kind);
  const JobPage page = co_await store::run_blocking(
      pool_, [&] { return list_page(store_, owner, status, kind_name, limit, after); });
  boost::json::array data;
  for (const store::Job& job : page.jobs) {
    data.push_back(kind == "batch" ? batch_json(job) : job_json(job, nullptr));
  }
  co_await exchange.respond_json(200, list_json(std::move(data), page.has_more));
}

boost::asio::awaitable<void> AsyncApi::cancel(http::Exchange& exchange, std::string_view kind) {
  const std::string id(exchange.request().path_param("id"));
  const std::optional<store::Job> owned = co_await own_job(exchange, id, kind);
  if (!owned) throw not_found(kind == "batch" ? "batch" : "job", id);
  std::optional<store::Job> job = co_await store::run_blocking(pool_, [this, key = &id] { return store_.cancel(*key); });
  if (!job) throw not_found(kind == "batch" ? "batch" : "job", id);
  // (Built before the co_await: GCC 12 mishandles a ?: temporary inside one.)
  const boost::json::object body = kind == "batch" ? batch_json(*job) : job_json(*job, nullptr);
  co_await exchange.respond_json(200, body);
}

// Files and batches --------------------------------------------------------

boost::asio::awaitable<void> AsyncApi::upload_file(http::Exchange& exchange) {
  const http::Request& request = exchange.request();
  store::StoredFile file;
  const std::string content_type(request.header("content-type").value_or(""));
  if (content_type.rfind("multipart/", 0) == 0) {
    std::vector<http::MultipartPart> parts;
    try {
      parts = http::parse_multipart(request.body, http::multipart_boundary(content_type));
    } catch (const Error& error) {
      throw http::HttpError::bad_request(std::string("malformed multipart body: ") + error.what());
    }
    bool has_file = false;
    for (http::MultipartPart& part : parts) {
      if (part.name == "purpose") {
        file.purpose = std::move(part.data);
      } else if (part.name == "file") {
        file.filename = part.filename.empty() ? "upload.jsonl" : std::move(part.filename);
        file.content = std::move(part.data);
        has_file = true;
      }
    }
    if (!has_file) throw http::HttpError::bad_request("the form has no 'file' field", "file");
  } else {
    file.purpose = std::string(request.query_param("purpose").value_or(""));
    file.filename = std::string(request.query_param("filename").value_or("upload.jsonl"));
    file.content = request.body;
  }
  if (file.purpose != "batch") {
    throw http::HttpError::bad_request(
        fmt::format("'purpose' must be \"batch\" (the only purpose tether keeps files for), not \"{}\"", file.purpose),
        "purpose");
  }
  if (file.filename.size() > kMaxFilenameChars || !printable(file.filename)) {
    throw http::HttpError::bad_request(
        fmt::format("the filename must have at most {} printable characters", kMaxFilenameChars), "file");
  }
  if (file.content.empty()) throw http::HttpError::bad_request("the file is empty", "file");
  file.tenant = tenant(request);
  const store::StoredFile stored =
      co_await store::run_blocking(pool_, [this, pending = &file] { return store_.put_file(*pending); });
  co_await exchange.respond_json(200, file_json(stored));
}

boost::asio::awaitable<void> AsyncApi::get_file(http::Exchange& exchange, bool content) {
  const std::string id(exchange.request().path_param("id"));
  if (const std::optional<DerivedFileId> derived = parse_batch_file_id(id)) {
    std::optional<store::Job> job = co_await own_job(exchange, derived->job_id, "batch");
    if (!job || !has_batch_file(*job, derived->errors)) throw not_found("file", id);
    const std::string job_id = job->id;
    const std::vector<store::Item> items =
        co_await store::run_blocking(pool_, [this, key = &job_id] { return store_.get_items(*key); });
    std::string text = batch_file_content(items, derived->errors);
    if (content) {
      co_await exchange.respond(200, std::move(text), "application/octet-stream");
    } else {
      co_await exchange.respond_json(200, derived_file_json(*job, derived->errors, text.size()));
    }
    co_return;
  }
  std::optional<store::StoredFile> file = co_await own_file(exchange, id);
  if (!file) throw not_found("file", id);
  if (content) {
    co_await exchange.respond(200, std::move(file->content), "application/octet-stream");
  } else {
    co_await exchange.respond_json(200, file_json(*file));
  }
}

boost::asio::awaitable<void> AsyncApi::create_batch(http::Exchange& exchange) {
  const boost::json::object body = http::parse_json_object_body(exchange.request());
  const boost::json::value* input_file_id = body.if_contains("input_file_id");
  if (input_file_id == nullptr || !input_file_id->is_string() || input_file_id->as_string().empty()) {
    throw http::HttpError::bad_request("'input_file_id' must name an uploaded file", "input_file_id");
  }
  const boost::json::value* endpoint = body.if_contains("endpoint");
  if (endpoint == nullptr || !endpoint->is_string() ||
      (endpoint->as_string() != "/v1/chat/completions" && endpoint->as_string() != "/v1/completions")) {
    throw http::HttpError::bad_request("'endpoint' must be \"/v1/chat/completions\" or \"/v1/completions\"",
                                       "endpoint");
  }
  int64_t window_ms = parse_completion_window("24h");
  if (const boost::json::value* window = body.if_contains("completion_window"); window != nullptr && !window->is_null()) {
    if (!window->is_string()) throw http::HttpError::bad_request("'completion_window' must be a string", "completion_window");
    window_ms = parse_completion_window(window->as_string());
  }
  store::NewJob job;
  job.kind = "batch";
  job.endpoint = std::string(endpoint->as_string());
  job.metadata = metadata_text(body.if_contains("metadata"));
  job.input_file_id = std::string(input_file_id->as_string());
  job.webhook_urls = webhooks(exchange.request(), {});

  const std::string file_id = job.input_file_id;
  std::optional<store::StoredFile> file = co_await own_file(exchange, file_id);
  if (!file) throw not_found("file", file_id);
  if (file->purpose != "batch") {
    throw http::HttpError::bad_request(fmt::format("file '{}' was uploaded for purpose '{}', not 'batch'", file_id,
                                                   file->purpose),
                                       "input_file_id");
  }
  // Parsing a large file is CPU work: off the network thread too.
  const std::string endpoint_name = job.endpoint;
  BatchInput input = co_await store::run_blocking(
      pool_, [&file, &endpoint_name] { return parse_batch_input(file->content, endpoint_name); });
  check_model(input.model);
  job.model = std::move(input.model);
  job.items = std::move(input.items);
  const store::JobStore::Submitted submitted = co_await submit(exchange, std::move(job), window_ms);
  co_await exchange.respond_json(200, batch_json(submitted.job));
}

boost::asio::awaitable<void> AsyncApi::get_batch(http::Exchange& exchange) {
  const std::string id(exchange.request().path_param("id"));
  std::optional<store::Job> job = co_await own_job(exchange, id, "batch");
  if (!job) throw not_found("batch", id);
  co_await exchange.respond_json(200, batch_json(*job));
}

std::function<bool(const std::string&)> served_model_check(const ApiService& service) {
  return [&service](const std::string& name) {
    const std::vector<std::shared_ptr<ModelRoute>> routes = service.routes();
    if (routes.empty()) return true;
    return std::any_of(routes.begin(), routes.end(), [&](const auto& route) { return route->answers_to(name); });
  };
}

}  // namespace tether::api
