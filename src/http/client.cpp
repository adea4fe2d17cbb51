#include "http/client.h"

#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json/serialize.hpp>

#include "common/error.h"

namespace tether::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);

bool equals_ignore_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t idx = 0; idx < a.size(); ++idx) {
    if (std::tolower(static_cast<unsigned char>(a[idx])) != std::tolower(static_cast<unsigned char>(b[idx]))) {
      return false;
    }
  }
  return true;
}

// A reused keep-alive connection that the server had already closed fails
// like this before any response byte arrives; the request is sent again on
// a fresh connection.
bool stale_connection_error(const boost::system::error_code& ec) {
  return ec == asio::error::eof || ec == bhttp::error::end_of_stream || ec == asio::error::connection_reset ||
         ec == asio::error::broken_pipe || ec == bhttp::error::partial_message;
}

}  // namespace

std::optional<std::string_view> ClientResponse::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (equals_ignore_case(key, name)) return std::string_view(value);
  }
  return std::nullopt;
}

struct HttpClient::Impl {
  asio::any_io_executor executor;
  std::string host;
  uint16_t port;
  ClientOptions options;
  std::optional<beast::tcp_stream> stream;
  beast::flat_buffer buffer;
  std::optional<bhttp::response_parser<bhttp::string_body>> parser;
  bool reusable = false;   // the last response left the connection open and idle
  bool streaming = false;  // a start()ed body is being read
  int opened = 0;

  void close() {
    if (stream) {
      boost::system::error_code ec;
      stream->socket().shutdown(tcp::socket::shutdown_both, ec);
      stream->close();
    }
    stream.reset();
    parser.reset();
    buffer.clear();
    reusable = false;
    streaming = false;
  }

  asio::awaitable<void> connect() {
    tcp::resolver resolver(executor);
    auto [resolve_ec, endpoints] = co_await resolver.async_resolve(host, std::to_string(port), kUseTuple);
    if (resolve_ec) throw_error(ErrorCode::kIo, "cannot resolve {}: {}", host, resolve_ec.message());
    stream.emplace(executor);
    stream->expires_after(options.connect_timeout);
    auto [connect_ec, endpoint] = co_await stream->async_connect(endpoints, kUseTuple);
    if (connect_ec) {
      stream.reset();
      throw_error(ErrorCode::kIo, "cannot connect to {}:{}: {}", host, port, connect_ec.message());
    }
    boost::system::error_code ec;
    stream->socket().set_option(tcp::no_delay(true), ec);
    buffer.clear();
    ++opened;
  }

  // Sends the request and reads the status line and headers.
  asio::awaitable<ClientResponse> send(std::string_view method, std::string_view target, const std::string& body,
                                       const HeaderList& headers, bool for_stream) {
    if (streaming) throw_error(ErrorCode::kInternal, "HttpClient: the previous stream was not finished");
    for (int attempt = 0;; ++attempt) {
      const bool reused = stream.has_value() && reusable;
      if (!reused) {
        close();
        co_await connect();
      }
      reusable = false;
      bhttp::request<bhttp::string_body> request;
      request.version(11);
      request.method_string(method);
      request.target(target);
      request.set(bhttp::field::host, host + ":" + std::to_string(port));
      request.set(bhttp::field::user_agent, "tether");
      for (const auto& [name, value] : headers) request.set(name, value);
      if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
        request.body() = body;
        request.prepare_payload();
      }
      stream->expires_after(options.io_timeout);
      auto [write_ec, written] = co_await bhttp::async_write(*stream, request, kUseTuple);
      if (write_ec) {
        close();
        if (reused && attempt == 0) continue;
        throw_error(ErrorCode::kIo, "sending to {}:{} failed: {}", host, port, write_ec.message());
      }
      parser.emplace();
      parser->header_limit(static_cast<std::uint32_t>(std::min<size_t>(options.max_header_bytes, UINT32_MAX)));
      if (for_stream) {
        parser->body_limit(boost::none);
      } else {
        parser->body_limit(options.max_body_bytes);
      }
      stream->expires_after(options.response_timeout.value_or(options.io_timeout));
      auto [read_ec, read] = co_await bhttp::async_read_header(*stream, buffer, *parser, kUseTuple);
      if (read_ec) {
        const bool nothing_read = buffer.size() == 0 && !parser->got_some();
        close();
        if (reused && attempt == 0 && nothing_read && stale_connection_error(read_ec)) continue;
        throw_error(read_ec == beast::error::timeout ? ErrorCode::kIo : ErrorCode::kCorruptData,
                    "reading the response from {}:{} failed: {}", host, port, read_ec.message());
      }
      ClientResponse response;
      response.status = static_cast<int>(parser->get().result_int());
      for (const auto& field : parser->get()) {
        std::string name(field.name_string());
        for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        response.headers.emplace_back(std::move(name), std::string(field.value()));
      }
      co_return response;
    }
  }

  void finish_message() {
    reusable = parser->get().keep_alive();
    streaming = false;
    if (!reusable) close();
  }
};

HttpClient::HttpClient(boost::asio::any_io_executor executor, std::string host, uint16_t port, ClientOptions options)
    : impl_(std::make_unique<Impl>()) {
  impl_->executor = std::move(executor);
  impl_->host = std::move(host);
  impl_->port = port;
  impl_->options = options;
}

HttpClient::~HttpClient() { impl_->close(); }

boost::asio::awaitable<ClientResponse> HttpClient::request(std::string_view method, std::string_view target,
                                                           std::string body, HeaderList headers) {
  Impl& d = *impl_;
  ClientResponse response = co_await d.send(method, target, body, headers, false);
  d.stream->expires_after(d.options.io_timeout);
  auto [ec, n] = co_await bhttp::async_read(*d.stream, d.buffer, *d.parser, kUseTuple);
  if (ec) {
    d.close();
    throw_error(ec == bhttp::error::body_limit ? ErrorCode::kCorruptData : ErrorCode::kIo,
                "reading the response body from {}:{} failed: {}", d.host, d.port, ec.message());
  }
  response.body = std::move(d.parser->get().body());
  d.finish_message();
  co_return response;
}

boost::asio::awaitable<ClientResponse> HttpClient::post_json(std::string_view target, const boost::json::value& body,
                                                             HeaderList headers) {
  headers.emplace_back("content-type", "application/json");
  co_return co_await request("POST", target, boost::json::serialize(body), std::move(headers));
}

boost::asio::awaitable<ClientResponse> HttpClient::start(std::string_view method, std::string_view target,
                                                         std::string body, HeaderList headers) {
  ClientResponse response = co_await impl_->send(method, target, body, headers, true);
  impl_->streaming = true;
  co_return response;
}

boost::asio::awaitable<std::optional<std::string>> HttpClient::next_chunk() {
  Impl& d = *impl_;
  if (!d.streaming || !d.parser) co_return std::nullopt;
  for (;;) {
    if (d.parser->is_done()) {
      d.finish_message();
      co_return std::nullopt;
    }
    d.stream->expires_after(d.options.io_timeout);
    auto [ec, n] = co_await bhttp::async_read_some(*d.stream, d.buffer, *d.parser, kUseTuple);
    if (ec && ec != bhttp::error::need_buffer) {
      d.close();
      throw_error(ErrorCode::kIo, "the stream from {}:{} broke: {}", d.host, d.port, ec.message());
    }
    std::string bytes = std::move(d.parser->get().body());
    d.parser->get().body().clear();
    if (!bytes.empty()) co_return bytes;
  }
}

void HttpClient::close() { impl_->close(); }

int HttpClient::connections_opened() const { return impl_->opened; }

bool HttpClient::idle_connection() const { return impl_->stream.has_value() && impl_->reusable && !impl_->streaming; }

void HttpClient::rebind(boost::asio::any_io_executor executor) {
  Impl& d = *impl_;
  if (d.streaming) throw_error(ErrorCode::kInternal, "HttpClient: rebind during a stream");
  if (d.stream && d.reusable && d.buffer.size() == 0) {
    // The socket's descriptor moves to a socket on the new executor.
    tcp::socket old = d.stream->release_socket();
    boost::system::error_code ec;
    const tcp::endpoint remote = old.remote_endpoint(ec);
    if (!ec) {
      auto native = old.release(ec);
      if (!ec) {
        tcp::socket moved(executor);
        moved.assign(remote.protocol(), native, ec);
        if (!ec) {
          d.stream.emplace(std::move(moved));
          d.parser.reset();
          d.executor = std::move(executor);
          return;
        }
        ::close(native);
      }
    }
    d.stream.reset();
  }
  d.close();
  d.executor = std::move(executor);
}

}  // namespace tether::http
