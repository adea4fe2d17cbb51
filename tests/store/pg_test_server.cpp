#include "store/pg_test_server.h"

#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include <fmt/format.h>

#include "common/error.h"
#include "store/pg_connection.h"

namespace tether::testing {
namespace {

namespace fs = std::filesystem;

constexpr const char* kUser = "tether";

// The newest /usr/lib/postgresql/<version>/bin holding initdb, pg_ctl and postgres; "" when none.
std::string find_bin_dir() {
  std::error_code ec;
  std::vector<std::pair<int, std::string>> found;
  for (const auto& entry : fs::directory_iterator("/usr/lib/postgresql", ec)) {
    fs::path bin = entry.path() / "bin";
    if (!fs::exists(bin / "initdb") || !fs::exists(bin / "pg_ctl") || !fs::exists(bin / "postgres")) continue;
    found.emplace_back(std::atoi(entry.path().filename().c_str()), bin.string());
  }
  if (found.empty()) return "";
  std::sort(found.begin(), found.end());
  return found.back().second;
}

std::string tail_of_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  std::string all = text.str();
  return all.size() > 2000 ? all.substr(all.size() - 2000) : all;
}

// A single-quoted shell word.
std::string shell_quote(const std::string& text) {
  std::string quoted = "'";
  for (char c : text) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

std::unique_ptr<PgTestServer>& shared_slot() {
  static std::unique_ptr<PgTestServer> server;  // destroyed at exit: stops the server
  return server;
}

}  // namespace

PgTestServer* PgTestServer::shared() {
  static std::once_flag once;
  std::call_once(once, [] {
    std::string bin_dir = find_bin_dir();
    if (bin_dir.empty()) return;
    std::unique_ptr<PgTestServer> server(new PgTestServer(bin_dir));
    server->start();
    shared_slot() = std::move(server);
  });
  // A failed start throws from call_once and leaves the flag unset: the
  // next test tries again and reports its own failure.
  return shared_slot().get();
}

std::string PgTestServer::unavailable_reason() {
  return "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb); scripts/install-deps.sh installs it";
}

PgTestServer::PgTestServer(std::string bin_dir) : bin_dir_(std::move(bin_dir)) {}

PgTestServer::~PgTestServer() { stop(); }

void PgTestServer::start_reaper() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw_error(ErrorCode::kIo, "pg test server: pipe failed");
  std::string prefix = as_postgres_user_ ? "runuser -u postgres -- " : "";
  std::string data = shell_quote(dir_ + "/data");
  std::string script = fmt::format(
      "read -r _; if [ -f {data}/postmaster.pid ]; then {prefix}{pg_ctl} -D {data} -m immediate -s -w stop "
      ">/dev/null 2>&1; fi; rm -rf {dir}",
      fmt::arg("data", data), fmt::arg("prefix", prefix), fmt::arg("pg_ctl", shell_quote(bin_dir_ + "/pg_ctl")),
      fmt::arg("dir", shell_quote(dir_)));
  pid_t pid = ::fork();
  if (pid == 0) {
    ::setsid();  // out of the test's process group: a signal to the group leaves it to clean up
    ::dup2(fds[0], 0);
    ::execl("/bin/sh", "sh", "-c", script.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  ::close(fds[0]);
  if (pid < 0) {
    ::close(fds[1]);
    throw_error(ErrorCode::kIo, "pg test server: cannot fork the reaper");
  }
  reaper_pid_ = pid;
  reaper_fd_ = fds[1];
}

void PgTestServer::run_program(const std::string& program, const std::vector<std::string>& args) {
  std::vector<std::string> argv;
  if (as_postgres_user_) argv = {"runuser", "-u", "postgres", "--"};
  argv.push_back(bin_dir_ + "/" + program);
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> raw;
  for (auto& arg : argv) raw.push_back(arg.data());
  raw.push_back(nullptr);

  std::string log = dir_ + "/" + program + ".out";
  int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw_error(ErrorCode::kIo, "pg test server: cannot write {}", log);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    int null_fd = ::open("/dev/null", O_RDONLY);
    if (null_fd >= 0) ::dup2(null_fd, 0);
    ::execvp(raw[0], raw.data());
    _exit(127);
  }
  ::close(fd);
  if (pid < 0) throw_error(ErrorCode::kIo, "pg test server: cannot fork for {}", program);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    throw_error(ErrorCode::kIo, "pg test server: {} failed (status {}): {}", program, status, tail_of_file(log));
  }
}

void PgTestServer::start() {
  auto started = std::chrono::steady_clock::now();
  std::string pattern = (fs::temp_directory_path() / "tether-pg-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) throw_error(ErrorCode::kIo, "pg test server: mkdtemp failed");
  dir_ = pattern;
  // PostgreSQL refuses to run as root: run its programs as the postgres
  // user (made by Debian's package), who must own the directory.
  if (::geteuid() == 0) {
    const passwd* user = ::getpwnam("postgres");
    if (user == nullptr) throw_error(ErrorCode::kIo, "pg test server: running as root and there is no postgres user");
    if (::chown(dir_.c_str(), user->pw_uid, user->pw_gid) != 0) {
      throw_error(ErrorCode::kIo, "pg test server: cannot chown {} to postgres", dir_);
    }
    as_postgres_user_ = true;
  }
  ::chmod(dir_.c_str(), 0755);
  start_reaper();
  std::string data = dir_ + "/data";
  run_program("initdb", {"-D", data, "-A", "trust", "-U", kUser, "-E", "UTF8", "--no-locale", "--no-sync"});
  std::string server_options = fmt::format(
      "-k {} -c listen_addresses='' -c fsync=off -c synchronous_commit=off -c full_page_writes=off "
      "-c max_connections=200",
      dir_);
  run_program("pg_ctl", {"-D", data, "-l", dir_ + "/server.log", "-w", "-t", "60", "-s", "-o", server_options, "start"});
  startup_ms_ = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  std::fprintf(stderr, "[pg test server] PostgreSQL in %s started in %.0f ms\n", bin_dir_.c_str(), startup_ms_);
}

void PgTestServer::stop() {
  if (reaper_pid_ <= 0) return;
  ::close(reaper_fd_);  // the reaper stops the server and removes the directory
  int status = 0;
  while (::waitpid(reaper_pid_, &status, 0) < 0 && errno == EINTR) {
  }
  reaper_pid_ = -1;
}

std::string PgTestServer::url_for(const std::string& database) const {
  return fmt::format("postgresql://{}@/{}?host={}", kUser, database, dir_);
}

std::string PgTestServer::create_database() {
  std::string name;
  {
    std::lock_guard lock(mutex_);
    name = fmt::format("t_{}", next_database_++);
  }
  store::PgConnection admin(url_for("postgres"));
  std::string sql = "CREATE DATABASE " + name;  // a name made here, not input
  admin.exec("create database", sql.c_str());
  return url_for(name);
}

}  // namespace tether::testing
