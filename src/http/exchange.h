#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/json/value.hpp>

#include "http/client_watch.h"
#include "http/http_error.h"
#include "http/request.h"

namespace tether::http {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

// What an Exchange needs from its connection (implemented by the server;
// tests may fake it).
class ExchangeTransport {
 public:
  virtual ~ExchangeTransport() = default;
  // Writes all bytes under the write timeout; false once the client is gone.
  virtual boost::asio::awaitable<bool> write_bytes(std::string bytes) = 0;
  // Whether the connection may stay open after this response (false when the
  // client asked to close, or the server is draining).
  virtual bool keep_alive() const = 0;
};

// One request and its response, handed to a route handler. Everything here
// runs on the connection's strand (the handler's executor); only
// EventChannel::push may be called from other threads.
//
// A handler answers exactly once: respond*/respond_error for a whole
// response, or start_stream, any number of write, then finish (chunked
// transfer; the server finishes a stream the handler left open). A handler
// that answers nothing gets a 500. Every response carries x-request-id and,
// when the request sent one, x-session-affinity.
class Exchange {
 public:
  Exchange(Request request, ExchangeTransport& transport, std::shared_ptr<ClientWatch> watch,
           boost::asio::any_io_executor executor);
  Exchange(const Exchange&) = delete;
  Exchange& operator=(const Exchange&) = delete;

  const Request& request() const { return request_; }
  Request& request() { return request_; }
  // The connection's strand: timers and channels of this request use it.
  const boost::asio::any_io_executor& executor() const { return executor_; }

  // Sent with the response (whole or stream) that follows.
  void add_response_header(std::string name, std::string value);

  // Whole responses; false when the client is gone.
  boost::asio::awaitable<bool> respond(int status, std::string body,
                                       std::string_view content_type = "text/plain; charset=utf-8");
  boost::asio::awaitable<bool> respond_json(int status, const boost::json::value& body);
  boost::asio::awaitable<bool> respond_error(const HttpError& error);

  // Streaming: the status line and headers, then chunks (HTTP/1.1 chunked
  // transfer; an HTTP/1.0 client gets raw bytes and the connection closes).
  // Each returns false once the client is gone: stop producing then.
  boost::asio::awaitable<bool> start_stream(int status, std::string_view content_type,
                                            HeaderList extra_headers = {});
  boost::asio::awaitable<bool> write(std::string_view data);
  boost::asio::awaitable<void> finish();

  // True once the client disconnected (noticed also while the handler is
  // not writing) or the server closed the connection at a drain deadline.
  bool client_gone() const { return watch_->gone(); }
  // Runs `callback` on the strand when the client goes (at once if gone).
  // Use it to cancel work on other threads right away.
  void on_client_gone(std::function<void()> callback) { watch_->add_listener(std::move(callback)); }
  const std::shared_ptr<ClientWatch>& watch() const { return watch_; }

  bool responded() const { return state_ != State::kNone; }
  bool stream_open() const { return state_ == State::kStreaming; }
  int status() const { return status_; }  // 0 before responding
  size_t body_bytes_sent() const { return body_bytes_sent_; }
  // Whether the connection stays open after this exchange.
  bool keep_alive() const { return keep_alive_; }

 private:
  enum class State { kNone, kStreaming, kDone };
  std::string head(int status, std::string_view content_type, const HeaderList& extra,
                   std::string_view length_or_chunked);

  Request request_;
  ExchangeTransport& transport_;
  std::shared_ptr<ClientWatch> watch_;
  boost::asio::any_io_executor executor_;
  HeaderList response_headers_;
  State state_ = State::kNone;
  int status_ = 0;
  bool chunked_ = false;
  bool keep_alive_ = true;
  size_t body_bytes_sent_ = 0;
};

}  // namespace tether::http
