#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "store/job_store.h"
#include "store/pg_pool.h"

namespace tether::store {

// The JobStore on PostgreSQL, for several gateway processes sharing one
// queue. Each call is one transaction on a connection of a small pool.
// Claims lock queued items with FOR UPDATE SKIP LOCKED, so concurrent
// claimers (threads or processes) never wait for each other nor get the
// same item. Times come from StoreOptions::clock (client side), never the
// server's now().
//
// Lock order, so that transactions do not deadlock: item rows before job
// rows; several items in (job, index) order; several jobs in creation
// order. Calls that change a whole job (cancel, expiry) lock all its items
// first. A deadlock or serialization failure that happens anyway reruns the
// transaction.
//
// Job counts and token sums are computed from the items when a job is read,
// so claims of one batch from many workers never queue on its job row.
class PgJobStore : public JobStore {
 public:
  static constexpr int kDefaultPoolSize = 4;

  // `conninfo`: a libpq connection URI (postgres://...) or key=value string.
  // Connects the pool and creates the schema when missing (two processes
  // doing so at once take turns). Error(kIo) when the database cannot be
  // reached or the schema cannot be made; Error(kCorruptData) when it holds
  // another version of the schema.
  PgJobStore(const std::string& conninfo, StoreOptions options = {}, int pool_size = kDefaultPoolSize);

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

 private:
  // Runs fn(connection) between BEGIN and COMMIT; rolls back on a throw and
  // reruns after a deadlock or serialization failure.
  template <typename Fn>
  auto transact(Fn&& fn) -> decltype(fn(std::declval<PgConnection&>()));

  void create_schema();

  // Helpers running inside a transaction.
  std::optional<Job> load_job(PgConnection& conn, std::string_view where, const PgParams& params);
  void write_event(PgConnection& conn, const Job& job, std::string_view event_type, int64_t now);
  // Makes the job terminal when none of its items is left unfinished.
  void finish_if_done(PgConnection& conn, int64_t job_seq, int64_t now);
  // A running item without a result goes back to the queue, or becomes
  // cancelled when its job was cancelled meanwhile. `undo_attempt` for a release.
  void unlease(PgConnection& conn, int64_t job_seq, int32_t index, bool undo_attempt, int64_t now);
  void lock_job_items(PgConnection& conn, int64_t job_seq);
  int32_t expire_overdue_in(PgConnection& conn, int64_t now);

  std::function<int64_t()> clock_;
  std::unique_ptr<PgPool> pool_;
};

}  // namespace tether::store
