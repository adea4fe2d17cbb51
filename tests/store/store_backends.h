#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "store/job_store.h"
#include "store/pg_test_server.h"
#include "test_paths.h"

namespace tether::testing {

// One test's database: `open` may be called again (after the last store
// is gone) and opens the same data; `cleanup` removes it.
struct StoreInstance {
  std::function<std::unique_ptr<store::JobStore>(store::StoreOptions)> open;
  std::function<void()> cleanup;
  // Set when the backend cannot run on this machine: the test skips, saying why.
  std::string skip_reason = "";
};

// A backend the JobStore contract tests run on; `create` makes a fresh,
// empty database.
struct StoreBackend {
  std::string name;  // the test name suffix: letters and digits
  std::function<StoreInstance()> create;
};

// Names the backend in test output, not its bytes.
inline void PrintTo(const StoreBackend& backend, std::ostream* out) { *out << backend.name; }

// Every backend this build can test. Add a backend here, once: the whole
// contract suite (tests/store/job_store_contract_test.cpp) then runs on it.
inline std::vector<StoreBackend> store_backends() {
  std::vector<StoreBackend> backends;
  backends.push_back(StoreBackend{"Sqlite", [] {
                                    auto dir = make_temp_dir("job-store");
                                    auto path = (dir / "store" / "jobs.db").string();
                                    return StoreInstance{
                                        [path](store::StoreOptions options) {
                                          return store::open_job_store("sqlite:" + path, std::move(options));
                                        },
                                        [dir] {
                                          std::error_code ec;
                                          std::filesystem::remove_all(dir, ec);
                                        }};
                                  }});
  // A fresh database on the binary's private PostgreSQL server (started
  // at first use); the databases go with the server at exit.
  backends.push_back(StoreBackend{"Postgres", [] {
                                    PgTestServer* server = PgTestServer::shared();
                                    if (server == nullptr) return StoreInstance{{}, {}, PgTestServer::unavailable_reason()};
                                    std::string url = server->create_database();
                                    return StoreInstance{[url](store::StoreOptions options) {
                                                           return store::open_job_store(url, std::move(options));
                                                         },
                                                         {}};
                                  }});
  return backends;
}

}  // namespace tether::testing
