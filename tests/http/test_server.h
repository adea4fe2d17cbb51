#pragma once

// Test helpers: a Server on port 0 running on its own thread, and a blocking
// raw-socket HTTP client that reads responses byte-exactly (header-only: the
// test binary globs only *_test.cpp).

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>

#include "http/server.h"

namespace tether::testing {

class TestServer {
 public:
  explicit TestServer(http::ServerOptions options = quiet_options(), metrics::Registry* metrics = nullptr)
      : server_(std::move(options), metrics) {}
  ~TestServer() { stop(); }

  static http::ServerOptions quiet_options() {
    http::ServerOptions options;
    options.port = 0;
    options.access_log = false;
    return options;
  }

  http::Router& router() { return server_.router(); }
  http::Server& server() { return server_; }
  uint16_t port() const { return server_.port(); }

  void start() {
    server_.start();
    thread_ = std::thread([this] { server_.run(); });
  }
  void stop(std::chrono::milliseconds grace = std::chrono::milliseconds(0)) {
    if (!thread_.joinable()) return;
    server_.stop(grace);
    thread_.join();
  }

 private:
  http::Server server_;
  std::thread thread_;
};

struct RawResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;                            // de-chunked
  bool closed = false;                         // the server closed the connection after it

  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

// A blocking TCP client for byte-level tests.
class RawSocket {
 public:
  explicit RawSocket(uint16_t port, std::chrono::milliseconds receive_timeout = std::chrono::seconds(10)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd_ < 0) throw std::runtime_error("socket() failed");
    timeval tv{};
    tv.tv_sec = receive_timeout.count() / 1000;
    tv.tv_usec = (receive_timeout.count() % 1000) * 1000;
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
      ::close(fd_);
      throw std::runtime_error("connect() failed");
    }
  }
  ~RawSocket() { close(); }
  RawSocket(const RawSocket&) = delete;
  RawSocket& operator=(const RawSocket&) = delete;

  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  // Closes with a reset (SO_LINGER 0): an abrupt disconnect.
  void reset() {
    linger option{1, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &option, sizeof option);
    close();
  }
  int fd() const { return fd_; }

  // False when the peer is gone.
  bool send(std::string_view data) {
    while (!data.empty()) {
      const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // Reads more bytes into the buffer; false on EOF, error or timeout.
  bool fill() {
    char chunk[16384];
    const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n <= 0) return false;
    buffer_.append(chunk, static_cast<size_t>(n));
    return true;
  }

  // Everything until the server closes (or the receive timeout).
  std::string read_all() {
    while (fill()) {
    }
    return std::exchange(buffer_, {});
  }

  // True when the server closed the connection within `timeout`.
  bool wait_closed(std::chrono::milliseconds timeout) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) > 0) {
        char chunk[4096];
        const ssize_t n = ::recv(fd_, chunk, sizeof chunk, MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) return true;
        if (n > 0) buffer_.append(chunk, static_cast<size_t>(n));
      }
    }
    return false;
  }

  std::optional<std::string> read_line() {
    for (;;) {
      const size_t end = buffer_.find("\r\n");
      if (end != std::string::npos) {
        std::string line = buffer_.substr(0, end);
        buffer_.erase(0, end + 2);
        return line;
      }
      if (!fill()) return std::nullopt;
    }
  }

  std::optional<std::string> read_exact(size_t n) {
    while (buffer_.size() < n) {
      if (!fill()) return std::nullopt;
    }
    std::string out = buffer_.substr(0, n);
    buffer_.erase(0, n);
    return out;
  }

  // Status line and headers only (for streams read chunk by chunk).
  std::optional<RawResponse> read_head() {
    RawResponse response;
    auto status_line = read_line();
    if (!status_line || status_line->size() < 12) return std::nullopt;
    response.status = std::stoi(status_line->substr(9, 3));
    for (;;) {
      auto line = read_line();
      if (!line) return std::nullopt;
      if (line->empty()) break;
      const size_t colon = line->find(':');
      std::string name = line->substr(0, colon);
      std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
      std::string value = colon == std::string::npos ? std::string() : line->substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.erase(0, 1);
      response.headers[name] = value;
    }
    return response;
  }

  // One chunk of a chunked body; "" for the last one, nullopt on EOF.
  std::optional<std::string> read_chunk() {
    auto size_line = read_line();
    if (!size_line) return std::nullopt;
    const size_t size = std::stoul(*size_line, nullptr, 16);
    auto data = read_exact(size + 2);
    if (!data) return std::nullopt;
    return data->substr(0, size);
  }

  // A whole response (content-length, chunked or until close).
  std::optional<RawResponse> read_response() {
    auto response = read_head();
    if (!response) return std::nullopt;
    if (response->header("transfer-encoding") == "chunked") {
      for (;;) {
        auto chunk = read_chunk();
        if (!chunk) return std::nullopt;
        if (chunk->empty()) break;
        response->body += *chunk;
      }
    } else if (!response->header("content-length").empty()) {
      auto body = read_exact(std::stoul(response->header("content-length")));
      if (!body) return std::nullopt;
      response->body = *body;
    } else if (response->status >= 200 && response->status != 204 && response->status != 304) {
      response->body = read_all();
    }
    response->closed = response->header("connection") == "close";
    return response;
  }

 private:
  int fd_ = -1;
  std::string buffer_;
};

// One request on a fresh connection.
inline std::optional<RawResponse> raw_request(uint16_t port, const std::string& bytes) {
  RawSocket socket(port);
  if (!socket.send(bytes)) return std::nullopt;
  return socket.read_response();
}

inline std::string get_request(const std::string& path, const std::string& extra_headers = "") {
  return "GET " + path + " HTTP/1.1\r\nHost: test\r\n" + extra_headers + "\r\n";
}

inline std::string post_request(const std::string& path, const std::string& body,
                                const std::string& extra_headers = "") {
  return "POST " + path + " HTTP/1.1\r\nHost: test\r\ncontent-type: application/json\r\ncontent-length: " +
         std::to_string(body.size()) + "\r\n" + extra_headers + "\r\n" + body;
}

}  // namespace tether::testing
