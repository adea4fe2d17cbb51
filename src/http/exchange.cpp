#include "http/exchange.h"

#include <boost/beast/http/status.hpp>
#include <boost/json/serialize.hpp>
#include <fmt/format.h>

#include "common/error.h"

namespace tether::http {
namespace {

// A header name or value from a handler must not smuggle a line break into
// the response.
bool safe_header_text(std::string_view text) {
  for (char c : text) {
    if (c == '\r' || c == '\n' || c == '\0') return false;
  }
  return true;
}

std::string_view reason_phrase(int status) {
  std::string_view reason = boost::beast::http::obsolete_reason(static_cast<boost::beast::http::status>(status));
  return reason.empty() || reason == "<unknown-status>" ? std::string_view("Unknown") : reason;
}

}  // namespace

Exchange::Exchange(Request request, ExchangeTransport& transport, std::shared_ptr<ClientWatch> watch,
                   boost::asio::any_io_executor executor)
    : request_(std::move(request)),
      transport_(transport),
      watch_(std::move(watch)),
      executor_(std::move(executor)) {}

void Exchange::add_response_header(std::string name, std::string value) {
  if (!safe_header_text(name) || !safe_header_text(value) || name.empty()) {
    throw_error(ErrorCode::kInternal, "response header '{}' has a line break or is empty", name);
  }
  response_headers_.emplace_back(std::move(name), std::move(value));
}

std::string Exchange::head(int status, std::string_view content_type, const HeaderList& extra,
                           std::string_view framing) {
  keep_alive_ = keep_alive_ && transport_.keep_alive();
  std::string out = fmt::format("HTTP/1.1 {} {}\r\n", status, reason_phrase(status));
  out += fmt::format("x-request-id: {}\r\n", request_.request_id);
  if (auto affinity = request_.header("x-session-affinity")) {
    if (!affinity->empty() && affinity->size() <= 256 && safe_header_text(*affinity)) {
      out += fmt::format("x-session-affinity: {}\r\n", *affinity);
    }
  }
  if (!content_type.empty()) out += fmt::format("content-type: {}\r\n", content_type);
  for (const auto& [name, value] : response_headers_) out += fmt::format("{}: {}\r\n", name, value);
  for (const auto& [name, value] : extra) {
    if (name.empty() || !safe_header_text(name) || !safe_header_text(value)) {
      throw_error(ErrorCode::kInternal, "response header '{}' has a line break or is empty", name);
    }
    out += fmt::format("{}: {}\r\n", name, value);
  }
  out += framing;
  out += keep_alive_ ? "connection: keep-alive\r\n\r\n" : "connection: close\r\n\r\n";
  return out;
}

boost::asio::awaitable<bool> Exchange::respond(int status, std::string body, std::string_view content_type) {
  if (state_ != State::kNone) throw_error(ErrorCode::kInternal, "the response was already started");
  state_ = State::kDone;
  status_ = status;
  const bool no_body = status == 204 || status == 304 || (status >= 100 && status < 200);
  std::string bytes = head(status, no_body ? std::string_view() : content_type, {},
                           no_body ? std::string() : fmt::format("content-length: {}\r\n", body.size()));
  if (!no_body) {
    bytes += body;
    body_bytes_sent_ = body.size();
  }
  if (watch_->gone()) co_return false;
  co_return co_await transport_.write_bytes(std::move(bytes));
}

boost::asio::awaitable<bool> Exchange::respond_json(int status, const boost::json::value& body) {
  co_return co_await respond(status, boost::json::serialize(body), "application/json");
}

boost::asio::awaitable<bool> Exchange::respond_error(const HttpError& error) {
  if (auto retry = error.retry_after_seconds()) add_response_header("retry-after", std::to_string(*retry));
  co_return co_await respond(error.status(), error_body(error), "application/json");
}

boost::asio::awaitable<bool> Exchange::start_stream(int status, std::string_view content_type,
                                                    HeaderList extra_headers) {
  if (state_ != State::kNone) throw_error(ErrorCode::kInternal, "the response was already started");
  state_ = State::kStreaming;
  status_ = status;
  // HTTP/1.0 has no chunked transfer: the body ends when the connection does.
  chunked_ = request_.version >= 11;
  if (!chunked_) keep_alive_ = false;
  std::string bytes = head(status, content_type, extra_headers,
                           chunked_ ? "transfer-encoding: chunked\r\ncache-control: no-cache\r\n"
                                    : "cache-control: no-cache\r\n");
  if (watch_->gone()) co_return false;
  co_return co_await transport_.write_bytes(std::move(bytes));
}

boost::asio::awaitable<bool> Exchange::write(std::string_view data) {
  if (state_ != State::kStreaming) throw_error(ErrorCode::kInternal, "write() outside a stream");
  if (watch_->gone()) co_return false;
  if (data.empty()) co_return true;  // an empty chunk would end the stream
  body_bytes_sent_ += data.size();
  if (!chunked_) co_return co_await transport_.write_bytes(std::string(data));
  std::string bytes = fmt::format("{:x}\r\n", data.size());
  bytes.append(data);
  bytes += "\r\n";
  co_return co_await transport_.write_bytes(std::move(bytes));
}

boost::asio::awaitable<void> Exchange::finish() {
  if (state_ != State::kStreaming) co_return;
  state_ = State::kDone;
  if (watch_->gone()) co_return;
  if (chunked_) co_await transport_.write_bytes("0\r\n\r\n");
}

}  // namespace tether::http
