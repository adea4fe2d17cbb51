#include "http/server.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdio>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <fmt/format.h>

#include "common/ascii.h"
#include "common/constant_time.h"
#include "common/error.h"
#include "http/exchange.h"
#include "metrics/histogram.h"

namespace tether::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);
// While a handler runs, bytes the client sends early (a pipelined request)
// are kept up to this much; the disconnect watch stops reading past it.
constexpr size_t kMaxEarlyBytes = 64 * 1024;
constexpr size_t kReadChunk = 4096;

bool sane_request_id(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' || c == ':' ||
           c == '/' || c == '+' || c == '=';
  });
}

std::string generate_request_id() {
  thread_local std::mt19937_64 random(std::random_device{}() ^
                                      static_cast<uint64_t>(Clock::now().time_since_epoch().count()));
  return fmt::format("req_{:016x}{:016x}", random(), random());
}

// Method as a metrics label: the standard ones, else "other" (a client
// cannot grow the label set).
std::string_view method_label(std::string_view method) {
  static constexpr std::string_view kKnown[] = {"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"};
  for (std::string_view known : kKnown) {
    if (method == known) return known;
  }
  return "other";
}

}  // namespace

// One accepted socket. Everything but the registry runs on its strand.
class Connection : public ExchangeTransport, public std::enable_shared_from_this<Connection> {
 public:
  Connection(Server::Impl& server, tcp::socket socket)
      : server_(server),
        socket_(std::move(socket)),
        deadline_(socket_.get_executor()),
        watch_done_(socket_.get_executor()) {
    deadline_.expires_at(Clock::time_point::max());
    boost::system::error_code ec;
    const tcp::endpoint remote = socket_.remote_endpoint(ec);
    if (!ec) peer_ = fmt::format("{}:{}", remote.address().to_string(), remote.port());
  }

  asio::any_io_executor executor() { return socket_.get_executor(); }

  void set_deadline(std::chrono::milliseconds timeout) { deadline_.expires_after(timeout); }
  void clear_deadline() { deadline_.expires_at(Clock::time_point::max()); }

  void close() {
    boost::system::error_code ec;
    socket_.shutdown(tcp::socket::shutdown_both, ec);
    socket_.close(ec);
    deadline_.cancel();
  }

  // Closes the socket when the deadline passes (the timeouts of every phase).
  asio::awaitable<void> watchdog() {
    auto self = shared_from_this();
    while (socket_.is_open()) {
      co_await deadline_.async_wait(kUseTuple);
      if (deadline_.expiry() <= Clock::now()) {
        timed_out_ = true;
        close();
        co_return;
      }
    }
  }

  asio::awaitable<bool> write_bytes(std::string bytes) override {
    if (!socket_.is_open()) co_return false;
    set_deadline(write_timeout_);
    auto [ec, n] = co_await asio::async_write(socket_, asio::buffer(bytes), kUseTuple);
    clear_deadline();
    if (ec) {
      if (watch_) watch_->mark_gone();
      co_return false;
    }
    co_return true;
  }

  bool keep_alive() const override;

  // Reads while a handler runs, so a hang-up is seen at once. Bytes that
  // arrive (a pipelined request) stay in the buffer for the next loop.
  asio::awaitable<void> watch_client(std::shared_ptr<ClientWatch> watch) {
    auto self = shared_from_this();
    watching_ = true;
    for (;;) {
      if (buffer_.size() >= kMaxEarlyBytes) break;
      auto [ec, n] = co_await socket_.async_read_some(buffer_.prepare(kReadChunk), kUseTuple);
      if (ec) {
        if (!(ec == asio::error::operation_aborted && stopping_watch_)) watch->mark_gone();
        break;
      }
      buffer_.commit(n);
      // A read that completed just as stop_watching() cancelled escaped the
      // cancel: read no further (another read would swallow the next
      // request and never end), the bytes stay for the next loop.
      if (stopping_watch_) break;
    }
    watching_ = false;
    watch_done_.cancel();
  }

  asio::awaitable<void> stop_watching() {
    if (watching_) {
      stopping_watch_ = true;
      boost::system::error_code ec;
      socket_.cancel(ec);
      while (watching_) {
        watch_done_.expires_at(Clock::time_point::max());
        co_await watch_done_.async_wait(kUseTuple);
      }
    }
    stopping_watch_ = false;
  }

  Server::Impl& server_;
  tcp::socket socket_;
  asio::steady_timer deadline_;
  asio::steady_timer watch_done_;
  beast::flat_buffer buffer_;
  std::string peer_;
  std::chrono::milliseconds write_timeout_{30'000};
  std::shared_ptr<ClientWatch> watch_;  // the running exchange's
  bool idle_ = false;            // waiting for a request's first byte
  bool client_keep_alive_ = true;
  bool timed_out_ = false;
  bool watching_ = false;
  bool stopping_watch_ = false;
};

class Server::Impl {
 public:
  Impl(ServerOptions options, metrics::Registry* metrics) : options_(std::move(options)), metrics_(metrics) {
    if (metrics_) {
      requests_total_ = &metrics_->counter("tether_http_requests_total", "HTTP requests answered",
                                           {"route", "method", "status"});
      request_duration_ = &metrics_->histogram("tether_http_request_duration_seconds",
                                               "HTTP request duration, first byte read to last byte written",
                                               {"route", "method"}, metrics::latency_buckets_seconds());
    }
  }

  void start() {
    if (started_) throw_error(ErrorCode::kInvalidArgument, "server already started");
    boost::system::error_code ec;
    const asio::ip::address address = asio::ip::make_address(options_.host, ec);
    if (ec) throw_error(ErrorCode::kInvalidArgument, "bad listen address '{}': {}", options_.host, ec.message());
    const tcp::endpoint endpoint(address, options_.port);
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      throw_error(ErrorCode::kIo, "cannot listen on {}:{}: {}", options_.host, options_.port, ec.message());
    }
    port_ = acceptor_.local_endpoint().port();
    started_ = true;
    asio::co_spawn(control_, accept_loop(), [](std::exception_ptr failure) {
      if (failure) report_failure("accept loop", failure);
    });
  }

  void run() {
    std::vector<std::thread> threads;
    for (int thread_idx = 1; thread_idx < std::max(1, options_.io_threads); ++thread_idx) {
      threads.emplace_back([this] { ioc_.run(); });
    }
    ioc_.run();
    for (auto& thread : threads) thread.join();
  }

  void stop(std::chrono::milliseconds grace) {
    asio::post(control_, [this, grace] {
      if (draining_.exchange(true)) return;
      boost::system::error_code ec;
      acceptor_.close(ec);
      for (const auto& connection : snapshot()) {
        asio::post(connection->executor(), [connection] {
          if (connection->idle_) connection->close();
        });
      }
      drain_timer_.expires_after(grace);
      drain_timer_.async_wait([this](boost::system::error_code wait_ec) {
        if (wait_ec) return;
        for (const auto& connection : snapshot()) {
          asio::post(connection->executor(), [connection] { connection->close(); });
        }
      });
      check_drained();
    });
  }

  void stop_now() {
    stop(std::chrono::milliseconds(0));
    asio::post(control_, [this] {
      for (const auto& connection : snapshot()) {
        asio::post(connection->executor(), [connection] { connection->close(); });
      }
    });
  }

  // On any thread: once draining and the last connection is gone, run() may return.
  void check_drained() {
    if (!draining_) return;
    {
      std::lock_guard lock(mutex_);
      if (!connections_.empty()) return;
    }
    asio::post(control_, [this] {
      drain_timer_.cancel();
      work_.reset();
      ioc_.stop();
    });
  }

  std::vector<std::shared_ptr<Connection>> snapshot() {
    std::lock_guard lock(mutex_);
    return {connections_.begin(), connections_.end()};
  }

  asio::awaitable<void> accept_loop() {
    while (acceptor_.is_open()) {
      auto [ec, socket] = co_await acceptor_.async_accept(asio::make_strand(ioc_), kUseTuple);
      if (ec) {
        if (!acceptor_.is_open()) break;
        continue;  // e.g. EMFILE: try again with the next one
      }
      if (draining_) break;
      // Streams write small pieces (one token's event); Nagle would hold each
      // behind the ACK of the previous one.
      boost::system::error_code option_ec;
      socket.set_option(tcp::no_delay(true), option_ec);
      auto connection = std::make_shared<Connection>(*this, std::move(socket));
      connection->write_timeout_ = options_.write_timeout;
      bool admitted = false;
      {
        std::lock_guard lock(mutex_);
        if (connections_.size() < options_.max_connections) {
          connections_.insert(connection);
          admitted = true;
        }
      }
      auto executor = connection->executor();
      if (admitted) {
        asio::co_spawn(executor, serve(connection), [this, connection](std::exception_ptr failure) {
          if (failure) report_failure("connection", failure);
          connection->close();
          {
            std::lock_guard lock(mutex_);
            connections_.erase(connection);
          }
          check_drained();
        });
      } else {
        asio::co_spawn(executor, refuse(connection), [connection](std::exception_ptr) { connection->close(); });
      }
    }
  }

  // Past max_connections: a short 503 and close, without reading the request.
  asio::awaitable<void> refuse(std::shared_ptr<Connection> connection) {
    asio::co_spawn(connection->executor(), connection->watchdog(), asio::detached);
    const HttpError error = HttpError::unavailable("too many connections; retry shortly", 1);
    const std::string body = error_body(error);
    std::string bytes = fmt::format(
        "HTTP/1.1 503 Service Unavailable\r\nx-request-id: {}\r\ncontent-type: application/json\r\n"
        "retry-after: 1\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{}",
        generate_request_id(), body.size(), body);
    connection->write_timeout_ = std::min(options_.write_timeout, std::chrono::milliseconds(1000));
    co_await connection->write_bytes(std::move(bytes));
    record("", "other", 503, Clock::now(), Clock::now(), "", "");
  }

  asio::awaitable<void> serve(std::shared_ptr<Connection> connection) {
    Connection& c = *connection;
    asio::co_spawn(c.executor(), c.watchdog(), asio::detached);
    bool first = true;
    while (c.socket_.is_open() && !draining_) {
      if (c.buffer_.size() == 0) {
        c.idle_ = true;
        c.set_deadline(first ? options_.header_timeout : options_.idle_timeout);
        auto [ec, n] = co_await c.socket_.async_read_some(c.buffer_.prepare(kReadChunk), kUseTuple);
        c.idle_ = false;
        if (ec) break;
        c.buffer_.commit(n);
      }
      first = false;
      const Clock::time_point start = Clock::now();
      bhttp::request_parser<bhttp::string_body> parser;
      parser.header_limit(static_cast<std::uint32_t>(std::min<size_t>(options_.max_header_bytes, UINT32_MAX)));
      parser.body_limit(options_.max_body_bytes);
      c.set_deadline(options_.header_timeout);
      auto [header_ec, header_n] = co_await bhttp::async_read_header(c.socket_, c.buffer_, parser, kUseTuple);
      if (header_ec) {
        if (c.timed_out_ || !c.socket_.is_open() || header_ec == bhttp::error::end_of_stream ||
            header_ec == asio::error::eof) {
          break;  // slow, gone or closed: nothing to answer
        }
        if (header_ec == bhttp::error::body_limit) {
          // Beast checks a declared Content-Length against the limit with the headers.
          co_await reject(c, start, HttpError(413, fmt::format("request body exceeds the limit of {} bytes",
                                                               options_.max_body_bytes)));
        } else if (header_ec == bhttp::error::header_limit) {
          co_await reject(c, start, HttpError(431, fmt::format("request headers exceed {} bytes",
                                                               options_.max_header_bytes)));
        } else {
          co_await reject(c, start, HttpError::bad_request("malformed HTTP request: " + header_ec.message()));
        }
        break;
      }
      const auto content_length = parser.content_length();
      if (content_length && *content_length > options_.max_body_bytes) {
        co_await reject(c, start, HttpError(413, fmt::format("request body of {} bytes exceeds the limit of {} bytes",
                                                             *content_length, options_.max_body_bytes)));
        break;
      }
      {
        auto expect = parser.get().find(bhttp::field::expect);
        if (expect != parser.get().end() && ascii_lower(expect->value()) == "100-continue") {
          if (!co_await c.write_bytes("HTTP/1.1 100 Continue\r\n\r\n")) break;
        }
      }
      c.set_deadline(options_.body_timeout);
      auto [body_ec, body_n] = co_await bhttp::async_read(c.socket_, c.buffer_, parser, kUseTuple);
      c.clear_deadline();
      if (body_ec) {
        if (body_ec == bhttp::error::body_limit) {
          co_await reject(c, start, HttpError(413, fmt::format("request body exceeds the limit of {} bytes",
                                                               options_.max_body_bytes)));
        } else if (!c.timed_out_ && c.socket_.is_open() && body_ec != asio::error::eof &&
                   body_ec != bhttp::error::end_of_stream && body_ec != bhttp::error::partial_message) {
          co_await reject(c, start, HttpError::bad_request("malformed HTTP request body: " + body_ec.message()));
        }
        break;
      }
      const bool keep_open = co_await handle(connection, parser.release(), start);
      if (!keep_open) break;
    }
    c.close();
  }

  // Answers a request that could not be read whole; the connection closes after.
  asio::awaitable<void> reject(Connection& c, Clock::time_point start, const HttpError& error) {
    c.client_keep_alive_ = false;
    Request request;
    request.request_id = generate_request_id();
    request.peer = c.peer_;
    auto watch = std::make_shared<ClientWatch>();
    Exchange exchange(std::move(request), c, watch, c.executor());
    co_await exchange.respond_error(error);
    record("", "other", error.status(), start, Clock::now(), exchange.request().request_id, "-");
  }

  // Runs one request; true when the connection may serve another.
  asio::awaitable<bool> handle(std::shared_ptr<Connection> connection,
                               bhttp::request<bhttp::string_body> message, Clock::time_point start) {
    Connection& c = *connection;
    Request request;
    request.method = std::string(message.method_string());
    request.target = std::string(message.target());
    request.version = message.version();
    request.peer = c.peer_;
    for (const auto& field : message) {
      request.headers.emplace_back(ascii_lower(field.name_string()), std::string(field.value()));
    }
    request.body = std::move(message.body());
    const auto id = request.header("x-request-id");
    request.request_id = id && sane_request_id(*id) ? std::string(*id) : generate_request_id();
    c.client_keep_alive_ = message.keep_alive();

    auto watch = std::make_shared<ClientWatch>();
    c.watch_ = watch;
    std::optional<HttpError> early_error;
    const std::optional<std::string> encoded_path = parse_target(request);
    if (!encoded_path) early_error = HttpError::bad_request("malformed request target");

    const Handler* handler = nullptr;
    std::string allow;
    if (!early_error && !authorized(request)) {
      early_error = HttpError(401, "missing or invalid API key: send 'Authorization: Bearer <key>'",
                              "authentication_error", {}, "invalid_api_key");
    }
    if (!early_error) {
      Router::Resolution resolution = router_.resolve(request, *encoded_path);
      handler = resolution.handler;
      early_error = std::move(resolution.error);
      allow = std::move(resolution.allow);
    }

    Exchange exchange(std::move(request), c, watch, c.executor());
    if (early_error) {
      if (!allow.empty()) exchange.add_response_header("allow", allow);
      if (early_error->status() == 401) exchange.add_response_header("www-authenticate", "Bearer");
      co_await exchange.respond_error(*early_error);
    } else {
      asio::co_spawn(c.executor(), c.watch_client(watch), asio::detached);
      std::exception_ptr failure;
      try {
        co_await (*handler)(exchange);
      } catch (...) {
        failure = std::current_exception();
      }
      if (failure) {
        const HttpError error = to_http_error(failure);
        if (error.status() >= 500) {
          std::fprintf(stderr, "%s\n",
                       fmt::format("tether: {} {} failed: {}", exchange.request().request_id,
                                   exchange.request().route, error.what())
                           .c_str());
        }
        if (!exchange.responded()) {
          co_await exchange.respond_error(error);
        } else {
          // A stream cut short cannot carry a status any more: close without
          // the terminal chunk, so the client sees an incomplete response
          // rather than a clean end.
          c.client_keep_alive_ = false;
          c.close();
        }
      } else if (!exchange.responded()) {
        co_await exchange.respond_error(HttpError(500, "the handler gave no response"));
      }
      if (exchange.stream_open()) co_await exchange.finish();
      co_await c.stop_watching();
    }
    c.watch_.reset();
    record(exchange.request().route.empty() ? "unmatched" : exchange.request().route,
           method_label(exchange.request().method), exchange.status(), start, Clock::now(),
           exchange.request().request_id,
           fmt::format("{} {}", exchange.request().method, exchange.request().target));
    co_return exchange.keep_alive() && !watch->gone() && c.client_keep_alive_ && !draining_ &&
        c.socket_.is_open();
  }

  bool authorized(const Request& request) const {
    if (options_.api_key.empty() && options_.extra_api_keys.empty()) return true;
    if (std::find(options_.public_paths.begin(), options_.public_paths.end(), request.path) !=
        options_.public_paths.end()) {
      return true;
    }
    const std::optional<std::string_view> token = request.bearer_token();
    if (!token) return false;
    bool known = !options_.api_key.empty() && constant_time_equals(*token, options_.api_key);
    for (const std::string& key : options_.extra_api_keys) known |= constant_time_equals(*token, key);
    return known;
  }

  void record(std::string_view route, std::string_view method, int status, Clock::time_point start,
              Clock::time_point end, std::string_view request_id, std::string_view what) {
    const double seconds = std::chrono::duration<double>(end - start).count();
    if (metrics_) {
      const std::string route_label(route.empty() ? "invalid" : route);
      requests_total_->labels({route_label, method, std::to_string(status)}).inc();
      request_duration_->labels({route_label, method}).observe(seconds);
    }
    if (options_.access_log && !request_id.empty()) {
      const std::string line = fmt::format("http {} {} {} {:.1f}ms\n", request_id, what, status, seconds * 1000.0);
      std::fwrite(line.data(), 1, line.size(), stderr);
    }
  }

  static void report_failure(std::string_view where, const std::exception_ptr& failure) {
    std::fprintf(stderr, "%s\n", fmt::format("tether: http {}: {}", where, describe_exception(failure)).c_str());
  }

  ServerOptions options_;
  metrics::Registry* metrics_;
  metrics::Family<metrics::Counter>* requests_total_ = nullptr;
  metrics::Family<metrics::Histogram>* request_duration_ = nullptr;
  Router router_;
  asio::io_context ioc_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_{ioc_.get_executor()};
  // The acceptor, the drain timer and stopping run on this strand: with
  // several io threads, a stop must not close the acceptor while the accept
  // loop starts its next accept.
  asio::strand<asio::io_context::executor_type> control_{asio::make_strand(ioc_)};
  tcp::acceptor acceptor_{control_};
  asio::steady_timer drain_timer_{control_};
  std::atomic<uint16_t> port_{0};
  std::atomic<bool> draining_{false};
  bool started_ = false;
  mutable std::mutex mutex_;  // guards connections_
  std::set<std::shared_ptr<Connection>> connections_;
};

bool Connection::keep_alive() const { return client_keep_alive_ && !server_.draining_; }

Server::Server(ServerOptions options, metrics::Registry* metrics)
    : impl_(std::make_unique<Impl>(std::move(options), metrics)) {}
Server::~Server() = default;
Router& Server::router() { return impl_->router_; }
void Server::start() { impl_->start(); }
void Server::run() { impl_->run(); }
void Server::stop(std::chrono::milliseconds grace) { impl_->stop(grace); }
void Server::stop_now() { impl_->stop_now(); }
uint16_t Server::port() const { return impl_->port_; }
bool Server::draining() const { return impl_->draining_; }
size_t Server::open_connections() const {
  std::lock_guard lock(impl_->mutex_);
  return impl_->connections_.size();
}
const ServerOptions& Server::options() const { return impl_->options_; }
boost::asio::io_context& Server::io_context() { return impl_->ioc_; }

}  // namespace tether::http
