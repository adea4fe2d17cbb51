#include "api/api_service.h"

#include <chrono>
#include <variant>

#include <boost/json/serialize.hpp>

#include "api/api_metrics.h"
#include "api/async_api.h"
#include "api/chat_response.h"
#include "api/output_assembler.h"
#include "api/request_preparer.h"
#include "api/request_priority.h"
#include "http/event_channel.h"
#include "http/http_error.h"
#include "http/json_body.h"

// GCC 12 takes the frame allocation of Asio's awaitable in serve() for a
// mismatched new/delete pair; Asio allocates and frees it with its own
// matching operators.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace tether::api {

namespace {

// Where an upstream gets the request: the path the client used; a Workers AI
// request to an upstream that serves the model under another name names
// that one.
std::string upstream_target(const http::Exchange& exchange, const ChatRequest& request,
                            const router::Upstream& upstream) {
  if (request.dialect == ApiDialect::kWorkersAi && !upstream.options().model.empty()) {
    return "/ai/run/" + upstream.options().model;
  }
  return exchange.request().target;
}

// What the engine's scheduler thread hands to a request's handler.
struct TokenEvent {
  std::string text;
  sampling::SampledToken token;
};
struct FinishEvent {
  generation::GenerationResult result;
  sched::RequestUsage usage;
};
using EngineEvent = std::variant<TokenEvent, FinishEvent>;

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string sse(const boost::json::value& event) {
  return "data: " + boost::json::serialize(event) + "\n\n";
}

// (GCC 12 rejects brace-initialized JSON with string literals inside a
// coroutine, so bodies are built by plain functions and sent by this one.)
boost::asio::awaitable<void> respond_json(http::Exchange& exchange, boost::json::object body) {
  co_await exchange.respond_json(200, body);
}

boost::json::object workers_ai_error_body(const http::HttpError& error) {
  boost::json::array errors;
  errors.push_back(boost::json::object{{"code", error.status()}, {"message", error.what()}});
  return boost::json::object{{"result", nullptr},
                             {"success", false},
                             {"errors", std::move(errors)},
                             {"messages", boost::json::array()}};
}

// The async service for a request that asks for one; 400 when there is none.
AsyncApi& async_or_refuse(AsyncApi* async) {
  if (async == nullptr) {
    throw http::HttpError::bad_request("async requests are not enabled on this server (no job store is configured)");
  }
  return *async;
}

http::HeaderList sse_headers() { return {{"cache-control", "no-cache"}}; }

std::string id_prefix(ApiDialect dialect) {
  switch (dialect) {
    case ApiDialect::kChatCompletions: return "chatcmpl-";
    case ApiDialect::kCompletions: return "cmpl-";
    case ApiDialect::kWorkersAi: return "req-";
  }
  return "req-";
}

// Writes the chunks of an assembler's deltas; false once the client is gone.
boost::asio::awaitable<bool> write_deltas(http::Exchange& exchange, const ResponseBuilder& builder,
                                          const std::vector<chat::ToolCallEvent>& events,
                                          std::vector<sampling::SampledToken>& pending_logprobs) {
  using Kind = chat::ToolCallEvent::Kind;
  for (const chat::ToolCallEvent& event : events) {
    boost::json::object chunk;
    if (event.kind == Kind::kContent) {
      if (event.text.empty()) continue;
      chunk = builder.content(event.text, pending_logprobs);
      pending_logprobs.clear();
    } else {
      chunk = builder.tool_call(event);
    }
    if (chunk.empty()) continue;  // call ends; Workers AI sends tool calls whole at the end
    if (!co_await exchange.write(sse(chunk))) co_return false;
  }
  co_return true;
}

}  // namespace

ApiService::ApiService(std::vector<std::shared_ptr<ServedModel>> models, metrics::Registry* metrics)
    : metrics_(std::make_unique<ApiMetrics>(metrics, [this] { return this->models(); })) {
  for (auto& model : models) add_model(std::move(model));
}

ApiService::~ApiService() = default;

void ApiService::add_model(std::shared_ptr<ServedModel> model) {
  add_route(make_model_route(std::move(model), {}, router::RouterOptions{}));
}

void ApiService::add_route(std::shared_ptr<ModelRoute> route) {
  std::lock_guard lock(mutex_);
  routes_.push_back(std::move(route));
}

std::vector<std::shared_ptr<ModelRoute>> ApiService::routes() const {
  std::lock_guard lock(mutex_);
  return routes_;
}

std::vector<std::shared_ptr<ServedModel>> ApiService::models() const {
  std::vector<std::shared_ptr<ServedModel>> local;
  for (const auto& route : routes()) {
    if (route->local) local.push_back(route->local);
  }
  return local;
}

std::shared_ptr<ModelRoute> ApiService::find_route(const std::string& name) const {
  std::vector<std::shared_ptr<ModelRoute>> loaded = routes();
  if (loaded.empty()) throw http::HttpError::unavailable("the model is loading; retry shortly", 1);
  for (const auto& route : loaded) {
    if (route->answers_to(name)) return route;
  }
  throw model_not_found(name);
}

http::HttpError model_not_found(const std::string& name) {
  return http::HttpError(400,
                         fmt::format("the model '{}' does not exist; GET /v1/models lists the served models", name),
                         "invalid_request_error", "model", "model_not_found");
}

void ApiService::register_routes(http::Router& router) {
  router.add("GET", "/v1/models", [this](http::Exchange& exchange) {
    return respond_json(exchange, models_body());
  });
  router.add("POST", "/v1/chat/completions", [this](http::Exchange& exchange) {
    boost::json::value body = http::parse_json_body(exchange.request());
    ChatRequest request = parse_chat_completion_request(body);  // 400 unless an object
    if (AsyncApi::is_async_request(exchange.request())) {
      return async_or_refuse(async_.load())
          .submit_single(exchange, "/v1/chat/completions", request.model, request.stream, std::move(body.as_object()));
    }
    return serve(exchange, std::move(request), std::move(body.as_object()));
  });
  router.add("POST", "/v1/completions", [this](http::Exchange& exchange) {
    boost::json::value body = http::parse_json_body(exchange.request());
    ChatRequest request = parse_completion_request(body);  // 400 unless an object
    if (AsyncApi::is_async_request(exchange.request())) {
      return async_or_refuse(async_.load())
          .submit_single(exchange, "/v1/completions", request.model, request.stream, std::move(body.as_object()));
    }
    return serve(exchange, std::move(request), std::move(body.as_object()));
  });
  auto workers_ai = [this](http::Exchange& exchange) { return serve_workers_ai(exchange); };
  router.add("POST", "/ai/run/{model...}", workers_ai);
  router.add("POST", "/accounts/{account}/ai/run/{model...}", workers_ai);
}

boost::asio::awaitable<void> ApiService::serve_workers_ai(http::Exchange& exchange) {
  // Workers AI answers failures in its own envelope, not OpenAI's body.
  std::optional<http::HttpError> failure;
  try {
    std::string model(exchange.request().path_param("model"));
    boost::json::value body = http::parse_json_body(exchange.request());
    if (body.is_object() && AsyncApi::is_workers_ai_async(exchange.request(), body.as_object())) {
      co_await async_or_refuse(async_.load()).serve_workers_ai(exchange, std::move(model), std::move(body.as_object()));
      co_return;
    }
    ChatRequest request = parse_workers_ai_request(body, model);  // 400 unless an object
    co_await serve(exchange, std::move(request), std::move(body.as_object()));
  } catch (...) {
    failure = http::to_http_error(std::current_exception());
  }
  if (!failure) co_return;
  if (exchange.responded()) throw *failure;  // mid-stream: the server ends it
  if (failure->retry_after_seconds()) {
    exchange.add_response_header("retry-after", std::to_string(*failure->retry_after_seconds()));
  }
  co_await exchange.respond_json(failure->status(), workers_ai_error_body(*failure));
}

boost::json::object ApiService::models_body() const {
  boost::json::array data;
  for (const auto& route : routes()) {
    auto entry = [&](const std::string& name) {
      data.push_back(boost::json::object{{"id", name},
                                         {"object", "model"},
                                         {"created", route->created},
                                         {"owned_by", "tether"}});
    };
    entry(route->id);
    for (const std::string& alias : route->aliases) entry(alias);
  }
  return boost::json::object{{"object", "list"}, {"data", std::move(data)}};
}

boost::asio::awaitable<void> ApiService::serve(http::Exchange& exchange, ChatRequest request,
                                               boost::json::object body) {
  const sched::Priority priority = request_priority(exchange.request());  // 400 for an unknown value
  const std::shared_ptr<ModelRoute> route = find_route(request.model);
  router::Router& router = *route->router;
  const std::optional<std::string> key =
      router::affinity_key(exchange.request().header("x-session-affinity"), body, route->affinity_sources);
  const router::Router::Plan plan =
      router.plan(key ? std::optional<std::string_view>(*key) : std::nullopt,
                  router::prefix_chunk_hashes(router::routing_text(body), router.options().chunk_bytes));
  std::optional<PreparedRequest> prepared;  // local replicas share one preparation
  bool any_full = false;
  std::string last_error;
  for (size_t position = 0; position < plan.order.size(); ++position) {
    const std::string& replica_id = plan.order[position];
    if (const std::optional<size_t> local = route->local_index(replica_id)) {
      // Bad requests (400) surface here, before any replica is charged.
      if (!prepared) {
        prepared = prepare_request(*route->local, request);
        prepared->engine_request.priority = priority;
      }
      router::Router::Lease lease = router.start(plan, position);
      if (co_await serve_local(exchange, request, *route->local, *local, *prepared, lease) ==
          LocalOutcome::kServed) {
        co_return;
      }
      any_full = true;
      last_error = replica_id + ": the engine's queue is full";
      continue;
    }
    const std::shared_ptr<router::Upstream> upstream = route->upstream(replica_id);
    if (!upstream) continue;
    if (request.dialect == ApiDialect::kWorkersAi && !upstream->options().workers_ai) continue;
    router::Router::Lease lease = router.start(plan, position);
    const router::ProxyResult result = co_await upstream->proxy(exchange, upstream_target(exchange, request, *upstream), body);
    using Status = router::ProxyResult::Status;
    if (result.status == Status::kRelayed) {
      router.report_success(replica_id);
      lease.finish(result.prompt_tokens, result.cached_tokens);
      co_return;
    }
    if (result.status == Status::kClientGone) co_return;
    router.report_failure(replica_id, result.error_kind);
    // Once the answer began, the client has part of it: never retried.
    if (result.status == Status::kFailedMidStream) co_return;
    last_error = replica_id + ": " + result.error;
  }
  if (any_full) {
    metrics_->rejected(*route->local);
    throw http::HttpError::too_many_requests("every replica's queue is full; retry after the indicated delay", 1);
  }
  if (last_error.empty()) {
    throw http::HttpError(400, fmt::format("no replica of '{}' answers this API", request.model),
                          "invalid_request_error", "model", "model_not_supported");
  }
  throw http::HttpError(502, "no replica could take the request (last: " + last_error + ")", "upstream_error");
}

boost::asio::awaitable<ApiService::LocalOutcome> ApiService::serve_local(
    http::Exchange& exchange, const ChatRequest& request, const ServedModel& served_model, size_t replica,
    PreparedRequest prepared, router::Router::Lease& lease) {
  const ServedModel* served = &served_model;
  const std::shared_ptr<sched::Engine>& engine_ptr = served->engines[replica];
  const auto started = std::chrono::steady_clock::now();

  http::EventChannel<EngineEvent> channel(exchange);
  sched::Callbacks callbacks;
  callbacks.on_token = [channel](std::string_view text, const sampling::SampledToken& token) {
    channel.push(TokenEvent{std::string(text), token});
  };
  callbacks.on_finish = [channel](const generation::GenerationResult& result,
                                  const sched::RequestUsage& usage) {
    channel.push(FinishEvent{result, usage});
    channel.close();
  };
  sched::SubmitResult submitted = engine_ptr->submit(std::move(prepared.engine_request), std::move(callbacks));
  if (submitted.status == sched::SubmitStatus::kFull) co_return LocalOutcome::kFull;
  if (submitted.status != sched::SubmitStatus::kAccepted) {
    throw http::HttpError::bad_request(submitted.error);
  }
  // A client that hangs up cancels its generation at once (the engine frees
  // its blocks within one step).
  std::weak_ptr<sched::Engine> engine = engine_ptr;
  const uint64_t id = submitted.id;
  exchange.on_client_gone([engine, id] {
    if (auto alive = engine.lock()) alive->cancel(id);
  });

  ResponseBuilder builder(request.dialect, request.model, random_id(id_prefix(request.dialect)),
                          unix_now(), [tok = served->tokenizer](int32_t token) {
                            return tok->token_to_piece(token);
                          });
  builder.set_null_usage_in_chunks(request.include_usage);
  OutputAssembler assembler(prepared.tool_parsing);
  std::vector<sampling::SampledToken> pending_logprobs;
  const bool keep_logprobs = request.sampling.logprobs;
  bool streaming = request.stream;
  if (streaming) {
    if (!co_await exchange.start_stream(200, "text/event-stream", sse_headers())) {
      co_return LocalOutcome::kServed;
    }
    // Chat streams open with the assistant's role; the other dialects send
    // text only, so their first event is the first token's.
    if (request.dialect == ApiDialect::kChatCompletions &&
        !co_await exchange.write(sse(builder.first()))) {
      co_return LocalOutcome::kServed;
    }
  }

  std::optional<FinishEvent> finished;
  bool first_token = true;
  while (std::optional<EngineEvent> event = co_await channel.next()) {
    if (auto* token = std::get_if<TokenEvent>(&*event)) {
      if (first_token) {
        metrics_->first_token(*served, started);
        first_token = false;
      }
      if (keep_logprobs) pending_logprobs.push_back(token->token);
      std::vector<chat::ToolCallEvent> deltas = assembler.feed(token->text);
      if (streaming && !co_await write_deltas(exchange, builder, deltas, pending_logprobs)) {
        co_return LocalOutcome::kServed;
      }
    } else {
      finished = std::move(std::get<FinishEvent>(*event));
      break;
    }
  }
  if (!finished) co_return LocalOutcome::kServed;  // the client went away; the request was cancelled
  const FinishEvent& done = *finished;
  metrics_->finished(*served, done.usage, started);
  lease.finish(done.usage.prompt_tokens, done.usage.cached_prompt_tokens);
  if (done.usage.status == sched::RequestStatus::kFailed) {
    if (streaming) {
      // The status line is gone; report in-band, as OpenAI does mid-stream.
      http::HttpError error(500, done.usage.error, "server_error");
      co_await exchange.write("data: " + http::error_body(error) + "\n\n");
      co_await exchange.finish();
      co_return LocalOutcome::kServed;
    }
    throw http::HttpError(500, "generation failed: " + done.usage.error, "server_error");
  }

  std::vector<chat::ToolCallEvent> tail = assembler.finish();
  CompletionOutput output = assembler.take_output();
  output.finish_reason = !output.tool_calls.empty()
                             ? "tool_calls"
                             : std::string(generation::finish_reason_name(done.result.finish_reason));
  output.usage = {.prompt = done.usage.prompt_tokens,
                  .cached = done.usage.cached_prompt_tokens,
                  .completion = done.usage.completion_tokens};
  if (keep_logprobs) output.logprobs = done.result.logprobs;

  if (!streaming) {
    co_await exchange.respond_json(200, builder.response(output));
    co_return LocalOutcome::kServed;
  }
  if (!co_await write_deltas(exchange, builder, tail, pending_logprobs)) co_return LocalOutcome::kServed;
  if (!co_await exchange.write(sse(builder.finish(output)))) co_return LocalOutcome::kServed;
  if (request.include_usage && request.dialect != ApiDialect::kWorkersAi) {
    if (!co_await exchange.write(sse(builder.usage(output.usage)))) co_return LocalOutcome::kServed;
  }
  if (!co_await exchange.write("data: [DONE]\n\n")) co_return LocalOutcome::kServed;
  co_await exchange.finish();
  co_return LocalOutcome::kServed;
}

}  // namespace tether::api
