#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "store/job_store.h"
#include "store/sqlite_statement.h"

struct sqlite3;

namespace tether::store {

// The JobStore on one SQLite file: WAL journal, synchronous=FULL (a commit
// survives power loss), foreign keys on. One connection, used by one
// thread at a time, so each call is one transaction (BEGIN IMMEDIATE)
// that no other call of this process interleaves with; other processes on
// the same file wait for the write lock (busy timeout), they do not fail.
//
// Job counts are kept in the job row, moved with every item transition in
// the same transaction, so that reading a job of 50 000 items and finishing
// its last item stay O(1).
class SqliteJobStore : public JobStore {
 public:
  // Opens (creating when missing) the database at `path` and its schema.
  // Error(kIo) when it cannot be opened or is not a database;
  // Error(kCorruptData) for a database of something else or another
  // schema version.
  SqliteJobStore(const std::string& path, StoreOptions options);
  ~SqliteJobStore() override;

  Submitted submit(const NewJob& job) override;
  std::optional<Job> get_job(const std::string& job_id) override;
  std::vector<Job> list_jobs(const JobFilter& filter) override;
  std::vector<Item> get_items(const std::string& job_id) override;
  std::vector<Claim> claim(const std::string& owner, const std::vector<std::string>& models, int32_t limit,
                           int64_t lease_ms) override;
  Renewal renew(const std::string& owner, const std::vector<std::pair<std::string, int32_t>>& items,
                int64_t lease_ms) override;
  bool complete(const std::string& owner, const std::string& job_id, int32_t index,
                const ItemOutcome& outcome) override;
  bool release(const std::string& owner, const std::string& job_id, int32_t index,
               bool keep_attempt = false) override;
  int32_t requeue_expired_leases() override;
  int32_t expire_overdue() override;
  std::optional<Job> cancel(const std::string& job_id) override;
  std::vector<Delivery> claim_deliveries(const std::string& owner, int32_t limit, int64_t lease_ms) override;
  void mark_delivered(const std::string& event_id, const std::string& url) override;
  void mark_attempt_failed(const std::string& event_id, const std::string& url, const std::string& error,
                           int64_t next_attempt_ms, bool dead) override;
  std::vector<Delivery> get_deliveries(const std::string& job_id) override;
  StoredFile put_file(const StoredFile& file) override;
  std::optional<StoredFile> get_file(const std::string& file_id) override;
  int64_t now_ms() override;

  // The journal mode SQLite reports ("wal"), for tests and diagnostics.
  std::string journal_mode();

 private:
  class Transaction;
  struct Closer {
    void operator()(sqlite3* db) const;
  };

  void exec(const char* sql);
  void open_schema();
  int64_t changes() const;

  // The helpers below run with mutex_ held, inside a transaction.
  std::optional<Job> load_job(const std::string& job_id);
  std::optional<Job> load_job_by_seq(int64_t job_seq);
  int64_t find_job_seq(const std::string& job_id);  // 0 = none
  void shift_counts(int64_t job_seq, ItemStatus from, ItemStatus to, int64_t count);
  void write_event(const Job& job, std::string_view event_type, int64_t now);
  void finish_if_done(int64_t job_seq, int64_t now);
  // A running item without a result goes back to the queue (cancelled when
  // its job was cancelled meanwhile). `undo_attempt` for a release.
  void unlease(int64_t job_seq, int32_t index, bool undo_attempt, int64_t now);
  int32_t expire_overdue_locked(int64_t now);

  std::string path_;
  std::function<int64_t()> clock_;
  std::mutex mutex_;  // guards db_ and statements_: one call on the connection at a time
  std::unique_ptr<sqlite3, Closer> db_;
  std::unique_ptr<StatementCache> statements_;
};

}  // namespace tether::store
