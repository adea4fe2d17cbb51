#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace tether::testing {

// A private PostgreSQL server for the tests of one test binary: made with
// initdb in a temporary directory, listening only on a Unix socket there,
// started at first use and stopped (its directory removed) when the process
// ends, even by a crash. Each
// test takes a fresh database of its own, so tests do not see each other.
// Durability is off (fsync=off): the tests exercise locking and SQL, not
// crash safety of the test server.
class PgTestServer {
 public:
  // The shared server, started on the first call. nullptr when PostgreSQL's
  // server programs are not installed (see unavailable_reason()); throws
  // tether::Error when they are but the server does not start.
  static PgTestServer* shared();
  static std::string unavailable_reason();

  // Creates a new, empty database and returns its postgres:// URL.
  std::string create_database();

  double startup_ms() const { return startup_ms_; }
  const std::string& socket_dir() const { return dir_; }

  PgTestServer(const PgTestServer&) = delete;
  PgTestServer& operator=(const PgTestServer&) = delete;
  ~PgTestServer();

 private:
  PgTestServer(std::string bin_dir);
  void start();
  // Forks a shell that waits for a pipe from this process to close, then
  // stops the server and removes the directory: at exit, and also when
  // this process dies (a crash, a kill -9 by a test runner's timeout).
  void start_reaper();
  void stop();
  // Runs a server program (as the postgres user when we are root); throws
  // with the end of its output when it fails.
  void run_program(const std::string& program, const std::vector<std::string>& args);
  std::string url_for(const std::string& database) const;

  std::string bin_dir_;
  std::string dir_;  // the temporary directory: data/, the socket, logs
  bool as_postgres_user_ = false;
  int reaper_pid_ = -1;
  int reaper_fd_ = -1;  // the pipe's write end; closing it tells the reaper to clean up
  double startup_ms_ = 0;
  std::mutex mutex_;       // guards next_database_
  int next_database_ = 1;
};

}  // namespace tether::testing
