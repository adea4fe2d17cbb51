#include "router/upstream.h"

#include <algorithm>
#include <utility>

#include <boost/asio/this_coro.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/url/parse.hpp>

#include "common/error.h"
#include "http/http_error.h"
#include "http/sse_parser.h"

namespace tether::router {
namespace {

constexpr size_t kMaxErrorSnippet = 512;
constexpr size_t kMaxWholeBody = 64 * 1024 * 1024;

bool contains(std::string_view text, std::string_view part) { return text.find(part) != std::string_view::npos; }

// Which kind of failure an HttpClient error was.
std::string failure_kind(const Error& error) {
  if (error.code() == ErrorCode::kCorruptData) return "protocol";
  const std::string_view message = error.what();
  if (contains(message, "cannot connect") || contains(message, "cannot resolve")) return "connect";
  if (contains(message, "timeout") || contains(message, "timed out")) return "timeout";
  return "io";
}

std::string request_payload(const boost::json::object& body, const std::string& model) {
  if (model.empty() || !body.contains("model")) return boost::json::serialize(body);
  boost::json::object renamed = body;
  renamed["model"] = model;
  return boost::json::serialize(renamed);
}

http::HeaderList request_headers(const http::Request& request, const std::string& api_key, bool stream) {
  http::HeaderList headers;
  headers.emplace_back("content-type", "application/json");
  headers.emplace_back("accept", stream ? "text/event-stream" : "application/json");
  if (!api_key.empty()) headers.emplace_back("authorization", "Bearer " + api_key);
  if (!request.request_id.empty()) headers.emplace_back("x-request-id", request.request_id);
  if (auto affinity = request.header("x-session-affinity")) {
    headers.emplace_back("x-session-affinity", std::string(*affinity));
  }
  // An async job's request stays async on a tether upstream too (its
  // interactive traffic keeps precedence there).
  if (auto priority = request.header("x-tether-priority")) {
    headers.emplace_back("x-tether-priority", std::string(*priority));
  }
  return headers;
}

std::string one_line(std::string_view text) {
  std::string line(text.substr(0, kMaxErrorSnippet));
  std::replace_if(line.begin(), line.end(), [](char c) { return c == '\n' || c == '\r'; }, ' ');
  return line;
}

std::string mid_stream_error_event(const std::string& upstream, const std::string& error) {
  http::HttpError failure(502, "upstream " + upstream + " failed mid-stream: " + error, "upstream_error");
  return "data: " + http::error_body(failure) + "\n\n";
}

// Watches a relayed event stream for the usage chunk.
class UsageSniffer {
 public:
  void feed(std::string_view bytes) {
    if (broken_) return;
    try {
      for (const http::SseEvent& event : parser_.feed(bytes)) {
        if (event.data == "[DONE]") continue;
        boost::system::error_code ec;
        const boost::json::value answer = boost::json::parse(event.data, ec);
        if (ec) continue;
        const RelayedUsage found = usage_of(answer);
        if (found.prompt_tokens) usage = found;
      }
    } catch (const Error&) {
      broken_ = true;  // an oversized line: relay on, stop looking
    }
  }
  RelayedUsage usage;

 private:
  http::SseParser parser_{1024 * 1024};
  bool broken_ = false;
};

RelayedUsage usage_of_body(std::string_view body) {
  boost::system::error_code ec;
  const boost::json::value answer = boost::json::parse(body, ec);
  if (ec) return {};
  return usage_of(answer);
}

// Points the client-gone listener at the client of one request and detaches
// it when the request is over (listeners cannot be removed).
struct ClientHandle {
  http::HttpClient* client = nullptr;
};

struct Detach {
  std::shared_ptr<ClientHandle> handle;
  ~Detach() { handle->client = nullptr; }
};

}  // namespace

RelayedUsage usage_of(const boost::json::value& answer) {
  RelayedUsage usage;
  const boost::json::object* object = answer.if_object();
  if (!object) return usage;
  const boost::json::value* found = object->if_contains("usage");
  if (!found || !found->is_object()) {
    const boost::json::value* result = object->if_contains("result");
    if (result && result->is_object()) found = result->as_object().if_contains("usage");
  }
  if (!found || !found->is_object()) return usage;
  const boost::json::object& counts = found->as_object();
  if (const auto* prompt = counts.if_contains("prompt_tokens"); prompt && prompt->is_int64()) {
    usage.prompt_tokens = prompt->as_int64();
  }
  if (const auto* details = counts.if_contains("prompt_tokens_details"); details && details->is_object()) {
    if (const auto* cached = details->as_object().if_contains("cached_tokens"); cached && cached->is_int64()) {
      usage.cached_tokens = cached->as_int64();
    }
  }
  if (const auto* completion = counts.if_contains("completion_tokens"); completion && completion->is_int64()) {
    usage.completion_tokens = completion->as_int64();
  }
  if (usage.prompt_tokens && !usage.cached_tokens) usage.cached_tokens = 0;
  return usage;
}

Upstream::Upstream(UpstreamOptions options) : options_(std::move(options)) {
  auto parsed = boost::urls::parse_uri(options_.url);
  if (!parsed) {
    throw_error(ErrorCode::kInvalidArgument, "upstream URL '{}' is not a URL: {}", options_.url,
                parsed.error().message());
  }
  const boost::urls::url_view url = *parsed;
  if (url.scheme() == "https") {
    throw_error(ErrorCode::kInvalidArgument,
                "upstream URL '{}': https is not supported (terminate TLS in front of the upstream, or use http)",
                options_.url);
  }
  if (url.scheme() != "http") {
    throw_error(ErrorCode::kInvalidArgument, "upstream URL '{}' must start with http://", options_.url);
  }
  host_ = url.host();
  if (host_.empty()) throw_error(ErrorCode::kInvalidArgument, "upstream URL '{}' names no host", options_.url);
  if (url.has_port()) {
    const std::string_view port = url.port();
    if (port.empty() || url.port_number() == 0) {
      throw_error(ErrorCode::kInvalidArgument, "upstream URL '{}' has a bad port", options_.url);
    }
    port_ = url.port_number();
  }
  if (url.has_query() || url.has_fragment() || url.has_userinfo()) {
    throw_error(ErrorCode::kInvalidArgument,
                "upstream URL '{}' must be http://host[:port][/path] (no query, fragment or user)", options_.url);
  }
  base_path_ = url.encoded_path();
  while (!base_path_.empty() && base_path_.back() == '/') base_path_.pop_back();
  // An OpenAI base URL (http://host:8000/v1) names the API's root; the
  // routes relayed already start with /v1.
  if (base_path_.size() >= 3 && base_path_.compare(base_path_.size() - 3, 3, "/v1") == 0) {
    base_path_.resize(base_path_.size() - 3);
  }
  if (options_.id.empty()) options_.id = host_ + ":" + std::to_string(port_);
  if (!options_.health_path.empty() && options_.health_path.front() != '/') {
    options_.health_path.insert(options_.health_path.begin(), '/');
  }
}

Upstream::~Upstream() = default;

http::ClientOptions Upstream::client_options() const {
  http::ClientOptions client;
  client.connect_timeout = options_.connect_timeout;
  client.io_timeout = options_.idle_timeout;
  client.response_timeout = options_.response_timeout;
  client.max_body_bytes = kMaxWholeBody;
  return client;
}

std::unique_ptr<http::HttpClient> Upstream::acquire(const boost::asio::any_io_executor& executor) {
  std::unique_ptr<http::HttpClient> client;
  {
    std::lock_guard lock(mutex_);
    if (!idle_.empty()) {
      client = std::move(idle_.back());
      idle_.pop_back();
    }
  }
  if (!client) return std::make_unique<http::HttpClient>(executor, host_, port_, client_options());
  client->rebind(executor);
  return client;
}

void Upstream::release(std::unique_ptr<http::HttpClient> client) {
  if (!client->idle_connection()) return;  // closed: nothing worth keeping
  std::lock_guard lock(mutex_);
  if (idle_.size() < options_.max_idle_connections) idle_.push_back(std::move(client));
}

int Upstream::connections_opened() const { return opened_.load(); }

size_t Upstream::idle_connections() const {
  std::lock_guard lock(mutex_);
  return idle_.size();
}

boost::asio::awaitable<ProxyResult> Upstream::proxy(http::Exchange& exchange, std::string_view target,
                                                    const boost::json::object& body) {
  using Status = ProxyResult::Status;
  ProxyResult result;
  const bool stream_wanted = body.contains("stream") && body.at("stream").is_bool() && body.at("stream").as_bool();
  const std::string path = base_path_ + std::string(target);
  std::string payload = request_payload(body, options_.model);
  http::HeaderList headers = request_headers(exchange.request(), options_.api_key, stream_wanted);

  std::unique_ptr<http::HttpClient> client = acquire(exchange.executor());
  const int opened_before = client->connections_opened();
  auto handle = std::make_shared<ClientHandle>();
  handle->client = client.get();
  // A client that hangs up closes the upstream connection at once: the
  // pending read fails, and the upstream sees its client go and cancels.
  exchange.on_client_gone([handle] {
    if (handle->client) handle->client->close();
  });
  Detach detach{handle};
  // Back to the pool, out of this request's hands first: another request
  // may take the connection at once.
  auto give_back = [&] {
    handle->client = nullptr;
    release(std::move(client));
  };

  http::ClientResponse response;
  std::optional<Error> start_error;
  try {
    response = co_await client->start("POST", path, std::move(payload), std::move(headers));
  } catch (const Error& error) {
    start_error = error;
  }
  // Only start() opens connections (again, when a reused one was closed).
  opened_ += client->connections_opened() - opened_before;
  if (start_error) {
    if (exchange.client_gone()) {
      result.status = Status::kClientGone;
      co_return result;
    }
    result.status = Status::kFailedBeforeResponse;
    result.error_kind = failure_kind(*start_error);
    result.error = start_error->what();
    co_return result;
  }
  result.upstream_status = response.status;
  const std::string content_type(response.header("content-type").value_or("application/octet-stream"));
  const bool event_stream = content_type.rfind("text/event-stream", 0) == 0;

  // Reads the whole body (for an answer relayed at once, or an error's text).
  std::string whole;
  std::string read_error;
  auto read_all = [&](size_t limit) -> boost::asio::awaitable<bool> {
    try {
      while (std::optional<std::string> chunk = co_await client->next_chunk()) {
        whole += *chunk;
        if (whole.size() > limit) {
          client->close();
          co_return false;
        }
      }
      co_return true;
    } catch (const Error& error) {
      read_error = error.what();
      co_return false;
    }
  };

  if (response.status >= 500 || response.status == 429) {
    co_await read_all(kMaxErrorSnippet);
    give_back();
    result.status = Status::kFailedBeforeResponse;
    result.error_kind = "status";
    result.error = "answered HTTP " + std::to_string(response.status) + (whole.empty() ? "" : ": " + one_line(whole));
    co_return result;
  }

  if (!event_stream) {
    const bool complete = co_await read_all(kMaxWholeBody);
    if (exchange.client_gone()) {
      result.status = Status::kClientGone;
      co_return result;
    }
    if (!complete) {
      // Nothing reached the client yet: another replica may answer.
      result.status = Status::kFailedBeforeResponse;
      result.error_kind = read_error.empty() ? "protocol" : "io";
      result.error = read_error.empty() ? "the answer exceeded 64 MiB" : read_error;
      co_return result;
    }
    give_back();
    if (response.status >= 200 && response.status < 300) {
      const RelayedUsage usage = usage_of_body(whole);
      result.prompt_tokens = usage.prompt_tokens;
      result.cached_tokens = usage.cached_tokens;
    }
    if (auto retry_after = response.header("retry-after")) {
      exchange.add_response_header("retry-after", std::string(*retry_after));
    }
    if (!co_await exchange.respond(response.status, std::move(whole), content_type)) {
      result.status = Status::kClientGone;
    }
    co_return result;
  }

  // An event stream: each chunk goes on as it arrives.
  UsageSniffer sniffer;
  if (!co_await exchange.start_stream(response.status, content_type)) {
    client->close();
    result.status = Status::kClientGone;
    co_return result;
  }
  for (;;) {
    std::optional<std::string> chunk;
    std::optional<Error> failure;
    try {
      chunk = co_await client->next_chunk();
    } catch (const Error& error) {
      failure = error;
    }
    if (exchange.client_gone()) {
      client->close();
      result.status = Status::kClientGone;
      co_return result;
    }
    if (failure) {
      result.status = Status::kFailedMidStream;
      result.error_kind = failure_kind(*failure);
      result.error = failure->what();
      // The status line is gone: say so in-band, then end the stream.
      if (co_await exchange.write(mid_stream_error_event(id(), result.error))) co_await exchange.finish();
      co_return result;
    }
    if (!chunk) break;
    sniffer.feed(*chunk);
    if (!co_await exchange.write(*chunk)) {
      client->close();
      result.status = Status::kClientGone;
      co_return result;
    }
  }
  give_back();
  result.prompt_tokens = sniffer.usage.prompt_tokens;
  result.cached_tokens = sniffer.usage.cached_tokens;
  co_await exchange.finish();
  co_return result;
}

boost::asio::awaitable<bool> Upstream::probe() {
  http::ClientOptions client_opts = client_options();
  client_opts.io_timeout = options_.connect_timeout + options_.response_timeout;
  client_opts.response_timeout = std::min(options_.response_timeout, std::chrono::milliseconds(10'000));
  http::HttpClient client(co_await boost::asio::this_coro::executor, host_, port_, client_opts);
  try {
    http::ClientResponse response = co_await client.request("GET", base_path_ + options_.health_path);
    co_return response.status >= 200 && response.status < 300;
  } catch (const Error&) {
    co_return false;
  }
}

}  // namespace tether::router
