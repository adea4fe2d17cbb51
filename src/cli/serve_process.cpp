#include "cli/serve_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <regex>
#include <sstream>
#include <thread>
#include <vector>

#include "common/error.h"

namespace tether::cli {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

std::string read_file_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

ServeProcess::ServeProcess(const std::filesystem::path& config_path, const std::filesystem::path& log_path,
                           std::chrono::milliseconds timeout, std::filesystem::path binary)
    : log_path_(log_path) {
  if (binary.empty()) binary = "/proc/self/exe";
  const int log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (log_fd < 0) throw_error(ErrorCode::kIo, "bench: cannot create the server log {}", log_path.string());
  // Everything the child needs is made before fork(): after it, only
  // async-signal-safe calls.
  const std::string binary_text = binary.string();
  const std::string config_text = config_path.string();
  std::vector<char*> argv = {const_cast<char*>(binary_text.c_str()), const_cast<char*>("serve"),
                             const_cast<char*>("--config"), const_cast<char*>(config_text.c_str()), nullptr};
  const pid_t parent = ::getpid();
  pid_ = ::fork();
  if (pid_ == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(126);  // the parent died before the prctl
    ::dup2(log_fd, STDOUT_FILENO);
    ::dup2(log_fd, STDERR_FILENO);
    ::execv(binary_text.c_str(), argv.data());
    ::_exit(127);
  }
  ::close(log_fd);
  if (pid_ < 0) throw_error(ErrorCode::kIo, "bench: cannot fork the server");

  const std::regex listening(R"(listening on http://[^\s]*:(\d+)\n)");
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    const std::string text = read_file_text(log_path_);
    std::smatch match;
    if (std::regex_search(text, match, listening)) {
      port_ = static_cast<uint16_t>(std::stoi(match[1]));
      return;
    }
    if (reap(false)) {
      throw_error(ErrorCode::kIo, "bench: the server exited ({}) before listening; its log ends:\n{}", exit_code_,
                  log_tail());
    }
    std::this_thread::sleep_for(20ms);
  }
  stop(0ms);
  throw_error(ErrorCode::kIo, "bench: the server did not listen within {} ms; its log ends:\n{}", timeout.count(),
              log_tail());
}

ServeProcess::~ServeProcess() { kill_now(); }

bool ServeProcess::reap(bool block) {
  if (reaped_) return true;
  int status = 0;
  const pid_t got = ::waitpid(pid_, &status, block ? 0 : WNOHANG);
  if (got != pid_) return false;
  reaped_ = true;
  exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return true;
}

bool ServeProcess::running() { return pid_ > 0 && !reap(false); }

int ServeProcess::stop(std::chrono::milliseconds timeout) {
  if (pid_ <= 0 || reaped_) return exit_code_;
  send_signal(SIGTERM);
  if (wait_exit(timeout) < 0 && !reaped_) kill_now();
  return exit_code_;
}

void ServeProcess::send_signal(int signal_number) {
  if (pid_ > 0 && !reaped_) ::kill(pid_, signal_number);
}

int ServeProcess::wait_exit(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (!reap(false)) {
    if (Clock::now() >= deadline) return -1;
    std::this_thread::sleep_for(10ms);
  }
  return exit_code_;
}

void ServeProcess::kill_now() {
  if (pid_ <= 0 || reaped_) return;
  ::kill(pid_, SIGKILL);
  reap(true);
}

std::string ServeProcess::log_tail(size_t bytes) const {
  const std::string text = read_file_text(log_path_);
  return text.size() > bytes ? text.substr(text.size() - bytes) : text;
}

}  // namespace tether::cli
