#include "api/local_invoker.h"

#include <exception>
#include <limits>
#include <optional>
#include <utility>

#include <boost/asio/buffer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <fmt/format.h>

#include "common/ascii.h"
#include "api/chat_response.h"
#include "http/http_error.h"

// GCC 12 takes the frame allocation of Asio's awaitable for a mismatched
// new/delete pair (see api_service.cpp).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace tether::api {

namespace {

// Keeps what the handler's exchange writes. The exchange itself stops
// writing once the watch is gone.
class CaptureTransport : public http::ExchangeTransport {
 public:
  boost::asio::awaitable<bool> write_bytes(std::string bytes) override {
    bytes_ += bytes;
    co_return true;
  }
  bool keep_alive() const override { return true; }
  const std::string& bytes() const { return bytes_; }

 private:
  std::string bytes_;
};

InvokeResult error_result(const http::HttpError& error) {
  InvokeResult result;
  result.status = error.status();
  result.headers.emplace_back("content-type", "application/json");
  result.body = http::error_body(error);
  return result;
}

InvokeResult cancelled_result() {
  return error_result(http::HttpError(kInvocationCancelled, "the invocation was cancelled", "cancelled"));
}

// The response in `bytes` (as Exchange writes it), or nullopt when it is
// incomplete (nothing written, a stream without its last chunk).
std::optional<InvokeResult> parse_response(const std::string& bytes) {
  if (bytes.empty()) return std::nullopt;
  namespace bhttp = boost::beast::http;
  bhttp::response_parser<bhttp::string_body> parser;
  parser.eager(true);
  parser.body_limit(std::numeric_limits<std::uint64_t>::max());
  size_t offset = 0;
  boost::system::error_code ec;
  while (offset < bytes.size() && !parser.is_done()) {
    const size_t used = parser.put(boost::asio::buffer(bytes.data() + offset, bytes.size() - offset), ec);
    if (ec == bhttp::error::need_more) break;
    if (ec) return std::nullopt;
    if (used == 0) break;
    offset += used;
  }
  if (!parser.is_done()) {
    // A response framed by the end of the connection (no length, not
    // chunked) ends here.
    parser.put_eof(ec);
    if (ec || !parser.is_done()) return std::nullopt;
  }
  bhttp::response<bhttp::string_body> message = parser.release();
  InvokeResult result;
  result.status = static_cast<int>(message.result_int());
  for (const auto& field : message) {
    result.headers.emplace_back(ascii_lower(field.name_string()), std::string(field.value()));
  }
  result.body = std::move(message.body());
  return result;
}

}  // namespace

std::optional<std::string_view> InvokeResult::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (key == name) return value;
  }
  return std::nullopt;
}

LocalInvoker::LocalInvoker(const http::Router& router) : router_(router) {}

boost::asio::awaitable<InvokeResult> LocalInvoker::invoke(std::string method, std::string target, std::string body,
                                                          http::HeaderList headers,
                                                          std::shared_ptr<http::ClientWatch> watch) const {
  if (!watch) watch = std::make_shared<http::ClientWatch>();
  http::Request request;
  request.method = std::move(method);
  request.target = std::move(target);
  request.version = 11;
  request.peer = "local";
  for (auto& [name, value] : headers) request.headers.emplace_back(ascii_lower(name), std::move(value));
  request.body = std::move(body);
  const std::optional<std::string_view> id = request.header("x-request-id");
  request.request_id = id && !id->empty() ? std::string(*id) : random_id("local-");

  std::optional<http::HttpError> early_error;
  std::string allow;
  const http::Handler* handler = nullptr;
  if (const std::optional<std::string> encoded_path = http::parse_target(request)) {
    http::Router::Resolution resolution = router_.resolve(request, *encoded_path);
    handler = resolution.handler;
    early_error = std::move(resolution.error);
    allow = std::move(resolution.allow);
  } else {
    early_error = http::HttpError::bad_request("malformed request target");
  }

  CaptureTransport transport;
  http::Exchange exchange(std::move(request), transport, watch, co_await boost::asio::this_coro::executor);
  if (early_error) {
    if (!allow.empty()) exchange.add_response_header("allow", allow);
    co_await exchange.respond_error(*early_error);
  } else {
    std::exception_ptr failure;
    try {
      co_await (*handler)(exchange);
    } catch (...) {
      failure = std::current_exception();
    }
    if (failure) {
      const http::HttpError error = http::to_http_error(failure);
      if (exchange.responded()) {
        if (watch->gone()) co_return cancelled_result();
        co_return error_result(error);  // mid-stream: what was sent is incomplete
      }
      co_await exchange.respond_error(error);
    } else if (!exchange.responded()) {
      co_await exchange.respond_error(http::HttpError(500, "the handler gave no response"));
    }
    if (exchange.stream_open()) co_await exchange.finish();
  }
  std::optional<InvokeResult> result = parse_response(transport.bytes());
  if (!result) {
    if (watch->gone()) co_return cancelled_result();
    co_return error_result(http::HttpError(500, "the handler's response could not be read back"));
  }
  co_return std::move(*result);
}

}  // namespace tether::api
