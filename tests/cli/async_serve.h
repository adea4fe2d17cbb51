#pragma once

// Helpers for the end-to-end tests of the async API through the real
// `tether serve` binary (header-only: the test binary globs only
// *_test.cpp): a tiny model made once, a `tether serve --config FILE` child
// process, HTTP calls, polling and /metrics reading.

#include <signal.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <mutex>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "cli/serve_process.h"
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

// A child `tether serve --config FILE` (cli::ServeProcess: started and
// listening once constructed), with what the tests add: waiting for /ready,
// signals, exit codes, kill -9 and the log for failure messages.
class ServeChild {
 public:
  ServeChild(const std::filesystem::path& config, const std::filesystem::path& log_path)
      : process_(config, log_path, std::chrono::seconds(60), tether_binary()) {}

  // Waits for /ready (with `auth`, an Authorization header line); the
  // port, or 0.
  uint16_t wait_ready(std::chrono::milliseconds timeout = std::chrono::seconds(60), const std::string& auth = "") {
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
      const auto ready = raw_request(port(), get_request("/ready", auth));
      if (ready && ready->status == 200) return port();
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return 0;
  }
  uint16_t port() const { return process_.port(); }
  void signal(int number) { process_.send_signal(number); }
  // The exit code, or -1 on a signal or timeout.
  int wait_exit(std::chrono::milliseconds timeout) { return process_.wait_exit(timeout); }
  // kill -9, reaped.
  void kill_hard() { process_.kill_now(); }
  // What the server wrote (for failure messages).
  std::string log() const { return process_.log_tail(size_t{1} << 20); }

 private:
  cli::ServeProcess process_;
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
