#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>

namespace tether::cli {

// `tether serve --config FILE` as a child process of a benchmark or a test,
// so that what is measured or tested is the real server: its own process,
// its own threads, the network between. The child's stdout and stderr go to `log_path`; it
// dies with the benchmark (PR_SET_PDEATHSIG), and the destructor kills it
// unless stop() reaped it.
class ServeProcess {
 public:
  // Starts `binary serve --config config_path` (binary "" = this program,
  // /proc/self/exe) and waits for its "listening on http://HOST:PORT" line.
  // Error(kIo) when it cannot start, exits or does not listen within
  // `timeout`, naming the end of its log.
  ServeProcess(const std::filesystem::path& config_path, const std::filesystem::path& log_path,
               std::chrono::milliseconds timeout, std::filesystem::path binary = {});
  ~ServeProcess();
  ServeProcess(const ServeProcess&) = delete;
  ServeProcess& operator=(const ServeProcess&) = delete;

  uint16_t port() const { return port_; }
  // Whether the child still runs (not reaped).
  bool running();
  // SIGTERM, then SIGKILL if it has not exited after `timeout`. Returns its
  // exit code, or -1 when a signal ended it. Idempotent.
  int stop(std::chrono::milliseconds timeout);
  // Sends `signal_number` (no wait).
  void send_signal(int signal_number);
  // Waits up to `timeout` for the child to exit: its exit code, or -1 when a
  // signal ended it or it still runs.
  int wait_exit(std::chrono::milliseconds timeout);
  // kill -9, and reaped.
  void kill_now();
  // The last `bytes` of its log, for error messages.
  std::string log_tail(size_t bytes = 2000) const;

 private:
  bool reap(bool block);

  std::filesystem::path log_path_;
  pid_t pid_ = -1;
  uint16_t port_ = 0;
  bool reaped_ = false;
  int exit_code_ = -1;
};

}  // namespace tether::cli
