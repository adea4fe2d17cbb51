#pragma once

// Helpers for the end-to-end tests of the async API through the real
// `tether serve` binary (header-only: the test binary globs only
// *_test.cpp): a tiny model made once, a `tether serve --config FILE` child
// process, HTTP calls, polling and /metrics reading.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <mutex>
#include <optional>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "cli_runner.h"
#include "http/test_server.h"
#include "test_paths.h"

namespace tether::testing {

// A directory removed when it goes out of scope.
class ScopedDir {
 public:
  explicit ScopedDir(const std::string& name) : path_(make_temp_dir(name)) {}
  ~ScopedDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  ScopedDir(const ScopedDir&) = delete;
  ScopedDir& operator=(const ScopedDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// A tiny llama (3.7M parameters; a token costs well under a millisecond)
// with an 8k context, made once per test binary (removed at exit); its
// served name is "tiny".
inline const std::filesystem::path& async_tiny_model() {
  static ScopedDir dir("async_serve_model");
  static const std::filesystem::path path = [] {
    const std::filesystem::path file = dir.path() / "tiny.gguf";
    const CliResult made =
        run_tether("make-model --preset tiny --type q8_0 --seed 1 --threads 1 --context 8192 -o '" + file.string() + "'");
    if (made.exit_code != 0) throw std::runtime_error("make-model failed: " + made.output);
    return file;
  }();
  return path;
}

// The serve config's head: the tiny model, quiet, one compute thread.
inline std::string async_serve_config_head() {
  return "model: " + async_tiny_model().string() +
         "\nmodel_name: tiny\nport: 0\nthreads: 1\nkv_memory: 32\naccess_log: false\ndrain_timeout_ms: 5000\n";
}

inline void write_text_file(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

// A child `tether serve --config FILE [ARGS]`: stdout on a pipe (for the
// listening line), stderr into a log file (printed by log()).
class ServeChild {
 public:
  ServeChild(const std::filesystem::path& config, const std::filesystem::path& log_path,
             std::vector<std::string> args = {})
      : log_path_(log_path) {
    int pipe_fds[2];
    if (::pipe(pipe_fds) != 0) throw std::runtime_error("pipe failed");
    const std::string binary = tether_binary().string();
    std::vector<std::string> all = {binary, "serve", "--config", config.string()};
    for (std::string& arg : args) all.push_back(std::move(arg));
    std::vector<char*> argv;
    for (std::string& arg : all) argv.push_back(arg.data());
    argv.push_back(nullptr);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(pipe_fds[1], STDOUT_FILENO);
      ::close(pipe_fds[0]);
      ::close(pipe_fds[1]);
      const int log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (log_fd >= 0) ::dup2(log_fd, STDERR_FILENO);
      ::execv(binary.c_str(), argv.data());
      ::_exit(127);
    }
    ::close(pipe_fds[1]);
    stdout_fd_ = pipe_fds[0];
  }
  ~ServeChild() {
    if (pid_ > 0 && !reaped_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (stdout_fd_ >= 0) ::close(stdout_fd_);
  }
  ServeChild(const ServeChild&) = delete;
  ServeChild& operator=(const ServeChild&) = delete;

  // Waits for "listening on http://127.0.0.1:PORT" and then for /ready
  // (with `auth`, an Authorization header line); the port, or 0.
  uint16_t wait_ready(std::chrono::milliseconds timeout = std::chrono::seconds(60), const std::string& auth = "") {
    const auto end = std::chrono::steady_clock::now() + timeout;
    std::string text;
    const std::regex pattern(R"(listening on http://127\.0\.0\.1:(\d+)\n)");
    while (port_ == 0 && std::chrono::steady_clock::now() < end) {
      pollfd p{stdout_fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      char chunk[256];
      const ssize_t n = ::read(stdout_fd_, chunk, sizeof chunk);
      if (n <= 0) return 0;
      text.append(chunk, static_cast<size_t>(n));
      std::smatch match;
      if (std::regex_search(text, match, pattern)) port_ = static_cast<uint16_t>(std::stoi(match[1]));
    }
    while (port_ != 0 && std::chrono::steady_clock::now() < end) {
      const auto ready = raw_request(port_, get_request("/ready", auth));
      if (ready && ready->status == 200) return port_;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return 0;
  }
  uint16_t port() const { return port_; }

  void signal(int number) { ::kill(pid_, number); }

  // The exit code, or -1 on a signal or timeout.
  int wait_exit(std::chrono::milliseconds timeout) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        reaped_ = true;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return -1;
  }
  // kill -9, reaped.
  void kill_hard() {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    reaped_ = true;
  }

  // What the server wrote on stderr (for failure messages).
  std::string log() const {
    std::ifstream in(log_path_);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }

 private:
  std::filesystem::path log_path_;
  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  uint16_t port_ = 0;
  bool reaped_ = false;
};

// A request that must get an answer (throws when the connection fails).
inline RawResponse http_call(uint16_t port, const std::string& bytes) {
  std::optional<RawResponse> response = raw_request(port, bytes);
  if (!response) throw std::runtime_error("no HTTP response");
  return *response;
}

inline boost::json::value json_of(const RawResponse& response) { return boost::json::parse(response.body); }

// Calls `done` every `every` until it says true or `timeout` passes.
inline bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds timeout = std::chrono::seconds(60),
                       std::chrono::milliseconds every = std::chrono::milliseconds(50)) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (done()) return true;
    if (std::chrono::steady_clock::now() >= end) return false;
    std::this_thread::sleep_for(every);
  }
}

// The value of one sample of /metrics ("name" or "name{labels}"); -1 when
// it is absent.
inline double metric_value(uint16_t port, const std::string& sample, const std::string& auth = "") {
  const RawResponse metrics = http_call(port, get_request("/metrics", auth));
  std::istringstream lines(metrics.body);
  for (std::string line; std::getline(lines, line);) {
    if (line.size() > sample.size() && line.compare(0, sample.size(), sample) == 0 && line[sample.size()] == ' ') {
      return std::stod(line.substr(sample.size() + 1));
    }
  }
  return -1;
}

inline double async_items(uint16_t port, const std::string& state, const std::string& auth = "") {
  return metric_value(port, "tether_async_items_total{state=\"" + state + "\"}", auth);
}

// A chat request body for the tiny model that generates exactly `tokens`.
inline std::string chat_body(int tokens, const std::string& content) {
  return R"({"model": "tiny", "max_tokens": )" + std::to_string(tokens) +
         R"(, "ignore_eos": true, "temperature": 0, "messages": [{"role": "user", "content": ")" + content + "\"}]}";
}

}  // namespace tether::testing
