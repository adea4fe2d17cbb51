#include "store/sqlite_job_store.h"

#include <chrono>

#include <boost/json.hpp>
#include <fmt/format.h>
#include <sqlite3.h>

#include "common/error.h"
#include "store/job_rules.h"
#include "store/sqlite_schema.h"
#include "store/store_ids.h"

namespace tether::store {

namespace {

constexpr int kBusyTimeoutMs = 10000;  // another process holding the write lock

constexpr const char* kJobColumns =
    "id, kind, model, endpoint, tenant, idempotency_key, webhook_urls, metadata, input_file_id, status, "
    "cancel_requested, n_total, n_queued, n_running, n_succeeded, n_failed, n_cancelled, n_expired, created_ms, "
    "deadline_ms, started_ms, finished_ms, prompt_tokens, completion_tokens, cached_tokens";

constexpr const char* kItemColumns =
    "j.id, i.idx, i.custom_id, i.request, i.status, i.attempts, i.http_status, i.result, i.error, i.lease_owner, "
    "i.lease_expires_ms, i.started_ms, i.finished_ms, i.prompt_tokens, i.completion_tokens, i.cached_tokens";

constexpr const char* kDeliveryColumns =
    "event_id, job_id, event_type, url, tenant, body, status, attempts, next_attempt_ms, last_error, created_ms";

// The jobs column that counts items in `status`.
const char* count_column(ItemStatus status) {
  switch (status) {
    case ItemStatus::kQueued: return "n_queued";
    case ItemStatus::kRunning: return "n_running";
    case ItemStatus::kSucceeded: return "n_succeeded";
    case ItemStatus::kFailed: return "n_failed";
    case ItemStatus::kCancelled: return "n_cancelled";
    case ItemStatus::kExpired: return "n_expired";
  }
  throw Error(ErrorCode::kInternal, "store: item status out of range");
}

Job read_job(const SqliteStatement& row) {
  Job job;
  job.id = row.text(0);
  job.kind = row.text(1);
  job.model = row.text(2);
  job.endpoint = row.text(3);
  job.tenant = row.text(4);
  job.idempotency_key = row.text(5);
  job.webhook_urls = decode_string_list(row.text(6), "a job's webhook_urls");
  job.metadata = row.text(7);
  job.input_file_id = row.text(8);
  job.status = parse_job_status(row.text(9));
  job.cancel_requested = row.int64(10) != 0;
  job.counts.total = static_cast<int32_t>(row.int64(11));
  job.counts.queued = static_cast<int32_t>(row.int64(12));
  job.counts.running = static_cast<int32_t>(row.int64(13));
  job.counts.succeeded = static_cast<int32_t>(row.int64(14));
  job.counts.failed = static_cast<int32_t>(row.int64(15));
  job.counts.cancelled = static_cast<int32_t>(row.int64(16));
  job.counts.expired = static_cast<int32_t>(row.int64(17));
  job.created_ms = row.int64(18);
  job.deadline_ms = row.int64(19);
  job.started_ms = row.int64(20);
  job.finished_ms = row.int64(21);
  job.prompt_tokens = row.int64(22);
  job.completion_tokens = row.int64(23);
  job.cached_tokens = row.int64(24);
  return job;
}

Item read_item(const SqliteStatement& row) {
  Item item;
  item.job_id = row.text(0);
  item.index = static_cast<int32_t>(row.int64(1));
  item.custom_id = row.text(2);
  item.request = row.text(3);
  item.status = parse_item_status(row.text(4));
  item.attempts = static_cast<int32_t>(row.int64(5));
  item.http_status = static_cast<int32_t>(row.int64(6));
  item.result = row.text(7);
  item.error = row.text(8);
  item.lease_owner = row.text(9);
  item.lease_expires_ms = row.int64(10);
  item.started_ms = row.int64(11);
  item.finished_ms = row.int64(12);
  item.prompt_tokens = row.int64(13);
  item.completion_tokens = row.int64(14);
  item.cached_tokens = row.int64(15);
  return item;
}

Delivery read_delivery(const SqliteStatement& row) {
  Delivery delivery;
  delivery.event_id = row.text(0);
  delivery.job_id = row.text(1);
  delivery.event_type = row.text(2);
  delivery.url = row.text(3);
  delivery.tenant = row.text(4);
  delivery.body = row.text(5);
  delivery.status = parse_delivery_status(row.text(6));
  delivery.attempts = static_cast<int32_t>(row.int64(7));
  delivery.next_attempt_ms = row.int64(8);
  delivery.last_error = row.text(9);
  delivery.created_ms = row.int64(10);
  return delivery;
}

}  // namespace

// BEGIN IMMEDIATE takes the write lock up front, so a transaction never
// fails half-way for a lock; rolled back unless committed.
class SqliteJobStore::Transaction {
 public:
  explicit Transaction(SqliteJobStore& store) : store_(store) { store_.exec("BEGIN IMMEDIATE"); }
  ~Transaction() {
    if (!committed_) sqlite3_exec(store_.db_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
  }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  void commit() {
    store_.exec("COMMIT");
    committed_ = true;
  }

 private:
  SqliteJobStore& store_;
  bool committed_ = false;
};

void SqliteJobStore::Closer::operator()(sqlite3* db) const { sqlite3_close_v2(db); }

SqliteJobStore::SqliteJobStore(const std::string& path, StoreOptions options)
    : path_(path), clock_(std::move(options.clock)) {
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                           nullptr);
  db_.reset(raw);  // closed on every path, even when the open failed
  if (rc != SQLITE_OK) {
    std::string message = raw != nullptr ? sqlite3_errmsg(raw) : sqlite3_errstr(rc);
    throw_error(ErrorCode::kIo, "sqlite: open {}: {}", path, message);
  }
  statements_ = std::make_unique<StatementCache>(db_.get());
  try {
    open_schema();
  } catch (const Error& error) {
    statements_.reset();
    throw Error(error.code(), fmt::format("{} (store {})", error.what(), path));
  }
}

SqliteJobStore::~SqliteJobStore() = default;

void SqliteJobStore::exec(const char* sql) {
  char* message = nullptr;
  int rc = sqlite3_exec(db_.get(), sql, nullptr, nullptr, &message);
  if (rc != SQLITE_OK) {
    std::string text = message != nullptr ? message : sqlite3_errstr(rc);
    sqlite3_free(message);
    std::string_view head(sql);
    throw_error(ErrorCode::kIo, "sqlite: {}: {}", head.substr(0, head.find_first_of("(\n")), text);
  }
}

int64_t SqliteJobStore::changes() const { return sqlite3_changes64(db_.get()); }

void SqliteJobStore::open_schema() {
  sqlite3_busy_timeout(db_.get(), kBusyTimeoutMs);
  exec("PRAGMA foreign_keys = ON");
  // Look before writing anything: a file of something else stays as it was.
  auto identity = [this] {
    struct {
      int64_t application_id, user_version, objects;
    } result{};
    { auto st = statements_->use("PRAGMA application_id"); st->step(); result.application_id = st->int64(0); }
    { auto st = statements_->use("PRAGMA user_version"); st->step(); result.user_version = st->int64(0); }
    { auto st = statements_->use("SELECT count(*) FROM sqlite_schema"); st->step(); result.objects = st->int64(0); }
    return result;
  };
  auto check = [](const auto& id) {
    if (id.application_id == kSqliteApplicationId) {
      if (id.user_version != kSqliteSchemaVersion) {
        throw_error(ErrorCode::kCorruptData, "sqlite: job store schema version {} (this tether reads version {})",
                    id.user_version, kSqliteSchemaVersion);
      }
      return false;
    }
    if (id.application_id != 0 || id.objects != 0) {
      throw_error(ErrorCode::kCorruptData, "sqlite: the database is not a tether job store");
    }
    return true;  // empty: make the schema
  };
  check(identity());

  {
    auto st = statements_->use("PRAGMA journal_mode = WAL");
    std::string mode = st->step() ? st->text(0) : "";
    if (mode != "wal" && mode != "memory") {
      throw_error(ErrorCode::kIo, "sqlite: cannot switch to WAL journal mode (got '{}')", mode);
    }
  }
  exec("PRAGMA synchronous = FULL");

  Transaction transaction(*this);
  if (check(identity())) {  // again under the write lock: another process may have made it meanwhile
    exec(kSqliteSchema);
    exec(fmt::format("PRAGMA application_id = {}", kSqliteApplicationId).c_str());
    exec(fmt::format("PRAGMA user_version = {}", kSqliteSchemaVersion).c_str());
  }
  transaction.commit();
  // The schema changed under the cached statements: prepare anew.
  statements_->clear();
}

std::string SqliteJobStore::journal_mode() {
  std::lock_guard lock(mutex_);
  auto st = statements_->use("PRAGMA journal_mode");
  return st->step() ? st->text(0) : "";
}

int64_t SqliteJobStore::now_ms() {
  if (clock_) return clock_();
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// ---- helpers (mutex_ held, in a transaction) ----

std::optional<Job> SqliteJobStore::load_job(const std::string& job_id) {
  auto st = statements_->use(fmt::format("SELECT {} FROM jobs WHERE id = ?", kJobColumns));
  st->bind_all(job_id);
  if (!st->step()) return std::nullopt;
  return read_job(*st);
}

std::optional<Job> SqliteJobStore::load_job_by_seq(int64_t job_seq) {
  auto st = statements_->use(fmt::format("SELECT {} FROM jobs WHERE seq = ?", kJobColumns));
  st->bind_all(job_seq);
  if (!st->step()) return std::nullopt;
  return read_job(*st);
}

int64_t SqliteJobStore::find_job_seq(const std::string& job_id) {
  auto st = statements_->use("SELECT seq FROM jobs WHERE id = ?");
  st->bind_all(job_id);
  return st->step() ? st->int64(0) : 0;
}

void SqliteJobStore::shift_counts(int64_t job_seq, ItemStatus from, ItemStatus to, int64_t count) {
  if (count == 0 || from == to) return;
  auto st = statements_->use(fmt::format("UPDATE jobs SET {0} = {0} - ?1, {1} = {1} + ?1 WHERE seq = ?2",
                                         count_column(from), count_column(to)));
  st->bind_all(count, job_seq);
  st->run();
}

void SqliteJobStore::write_event(const Job& job, std::string_view event_type, int64_t now) {
  if (job.webhook_urls.empty()) return;
  std::string event_id = new_id("evt_");
  std::string body = event_body(event_type, job, event_id, now);
  auto st = statements_->use(
      "INSERT INTO deliveries (event_id, url, job_id, event_type, tenant, body, status, next_attempt_ms, created_ms) "
      "VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?)");
  for (const auto& url : job.webhook_urls) {
    st->reset();
    st->bind_all(event_id, url, job.id, event_type, job.tenant, body, now, now);
    st->run();
  }
}

void SqliteJobStore::finish_if_done(int64_t job_seq, int64_t now) {
  auto job = load_job_by_seq(job_seq);
  if (!job || is_terminal(job->status) || job->counts.queued + job->counts.running > 0) return;
  const JobStatus status = terminal_status(job->cancel_requested, job->counts);
  {
    auto st = statements_->use("UPDATE jobs SET status = ?, finished_ms = ? WHERE seq = ?");
    st->bind_all(job_status_name(status), now, job_seq);
    st->run();
  }
  job->status = status;
  job->finished_ms = now;
  write_event(*job, terminal_event(status), now);
}

void SqliteJobStore::unlease(int64_t job_seq, int32_t index, bool undo_attempt, int64_t now) {
  bool cancelled = false;
  {
    auto st = statements_->use("SELECT cancel_requested FROM jobs WHERE seq = ?");
    st->bind_all(job_seq);
    cancelled = st->step() && st->int64(0) != 0;
  }
  // The item of a cancelled job is not claimed again: it ends here.
  ItemStatus to = cancelled ? ItemStatus::kCancelled : ItemStatus::kQueued;
  {
    auto st = statements_->use(
        "UPDATE items SET status = ?1, attempts = max(attempts - ?2, 0), lease_owner = '', lease_expires_ms = 0, "
        "error = CASE WHEN ?1 = 'cancelled' THEN 'cancelled' ELSE error END, "
        "finished_ms = CASE WHEN ?1 = 'cancelled' THEN ?3 ELSE 0 END "
        "WHERE job_seq = ?4 AND idx = ?5");
    st->bind_all(item_status_name(to), undo_attempt ? 1 : 0, now, job_seq, index);
    st->run();
  }
  shift_counts(job_seq, ItemStatus::kRunning, to, 1);
  if (cancelled) finish_if_done(job_seq, now);
}

int32_t SqliteJobStore::expire_overdue_locked(int64_t now) {
  std::vector<int64_t> overdue;
  {
    auto st = statements_->use(
        "SELECT seq FROM jobs WHERE status IN ('queued', 'running') AND deadline_ms > 0 AND deadline_ms <= ? "
        "AND n_queued > 0 ORDER BY seq");
    st->bind_all(now);
    while (st->step()) overdue.push_back(st->int64(0));
  }
  int32_t expired = 0;
  for (int64_t job_seq : overdue) {
    int64_t count = 0;
    {
      auto st = statements_->use(
          "UPDATE items SET status = 'expired', error = 'the job passed its deadline before this item started', "
          "finished_ms = ? WHERE job_seq = ? AND status = 'queued'");
      st->bind_all(now, job_seq);
      st->run();
      count = changes();
    }
    shift_counts(job_seq, ItemStatus::kQueued, ItemStatus::kExpired, count);
    finish_if_done(job_seq, now);
    expired += static_cast<int32_t>(count);
  }
  return expired;
}

// ---- jobs ----

JobStore::Submitted SqliteJobStore::submit(const NewJob& job) {
  check_new_job(job);
  std::lock_guard lock(mutex_);
  int64_t now = now_ms();
  Transaction transaction(*this);
  if (!job.idempotency_key.empty()) {
    auto st = statements_->use(
        fmt::format("SELECT {} FROM jobs WHERE tenant = ? AND idempotency_key = ? AND idempotency_key <> ''",
                    kJobColumns));
    st->bind_all(job.tenant, job.idempotency_key);
    if (st->step()) return Submitted{read_job(*st), true};  // nothing written: the rollback is a no-op
  }
  std::string job_id = new_id("job_");
  int64_t job_seq = 0;
  {
    auto st = statements_->use(
        "INSERT INTO jobs (id, kind, model, endpoint, tenant, idempotency_key, webhook_urls, metadata, "
        "input_file_id, status, n_total, n_queued, created_ms, deadline_ms) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'queued', ?, ?, ?, ?)");
    auto count = static_cast<int64_t>(job.items.size());
    st->bind_all(job_id, job.kind, job.model, job.endpoint, job.tenant, job.idempotency_key,
                 encode_string_list(job.webhook_urls), job.metadata, job.input_file_id, count, count, now, job.deadline_ms);
    st->run();
    job_seq = sqlite3_last_insert_rowid(db_.get());
  }
  {
    auto st = statements_->use("INSERT INTO items (job_seq, idx, custom_id, request, status) VALUES (?, ?, ?, ?, 'queued')");
    for (size_t idx = 0; idx < job.items.size(); ++idx) {
      st->reset();
      st->bind_all(job_seq, static_cast<int64_t>(idx), job.items[idx].custom_id, job.items[idx].request);
      st->run();
    }
  }
  auto stored = load_job_by_seq(job_seq);
  if (!stored) throw Error(ErrorCode::kInternal, "store: a job vanished inside its own transaction");
  write_event(*stored, "queued", now);
  transaction.commit();
  return Submitted{std::move(*stored), false};
}

std::optional<Job> SqliteJobStore::get_job(const std::string& job_id) {
  std::lock_guard lock(mutex_);
  return load_job(job_id);
}

std::vector<Job> SqliteJobStore::list_jobs(const JobFilter& filter) {
  check_filter(filter);
  std::lock_guard lock(mutex_);
  // An unknown `after` id matches no seq: the list is empty.
  auto st = statements_->use(fmt::format(
      "SELECT {} FROM jobs WHERE (?1 = '' OR status = ?1) AND (?2 = 0 OR tenant = ?3) AND (?4 = '' OR kind = ?4) "
      "AND (?5 = '' OR seq < (SELECT seq FROM jobs WHERE id = ?5)) ORDER BY seq DESC LIMIT ?6",
      kJobColumns));
  st->bind_all(filter.status ? job_status_name(*filter.status) : std::string_view(),
               int64_t{filter.tenant.has_value() ? 1 : 0}, filter.tenant.value_or(std::string()), filter.kind,
               filter.after, filter.limit);
  std::vector<Job> jobs;
  while (st->step()) jobs.push_back(read_job(*st));
  return jobs;
}

std::vector<Item> SqliteJobStore::get_items(const std::string& job_id) {
  std::lock_guard lock(mutex_);
  auto st = statements_->use(fmt::format(
      "SELECT {} FROM items i JOIN jobs j ON j.seq = i.job_seq WHERE j.id = ? ORDER BY i.idx", kItemColumns));
  st->bind_all(job_id);
  std::vector<Item> items;
  while (st->step()) items.push_back(read_item(*st));
  return items;
}

// ---- work ----

std::vector<Claim> SqliteJobStore::claim(const std::string& owner, const std::vector<std::string>& models,
                                         int32_t limit, int64_t lease_ms) {
  check_claim(limit, lease_ms);
  check_owner(owner);
  if (limit == 0) return {};
  std::lock_guard lock(mutex_);
  int64_t now = now_ms();
  Transaction transaction(*this);
  expire_overdue_locked(now);  // what is past its deadline leaves the queue first

  std::vector<std::pair<int64_t, int32_t>> picked;  // (job_seq, idx), oldest job first
  {
    auto st = statements_->use(
        "SELECT i.job_seq, i.idx FROM items i JOIN jobs j ON j.seq = i.job_seq "
        "WHERE i.status = 'queued' AND j.cancel_requested = 0 AND (j.deadline_ms = 0 OR j.deadline_ms > ?1) "
        "AND (?2 = '[]' OR j.model IN (SELECT value FROM json_each(?2))) "
        "ORDER BY i.job_seq, i.idx LIMIT ?3");
    st->bind_all(now, encode_string_list(models), limit);
    while (st->step()) picked.emplace_back(st->int64(0), static_cast<int32_t>(st->int64(1)));
  }
  int64_t lease_expires_ms = now + lease_ms;
  for (size_t first = 0; first < picked.size();) {
    int64_t job_seq = picked[first].first;
    size_t last = first;
    for (; last < picked.size() && picked[last].first == job_seq; ++last) {
      auto st = statements_->use(
          "UPDATE items SET status = 'running', attempts = attempts + 1, lease_owner = ?, lease_expires_ms = ?, "
          "started_ms = ?, finished_ms = 0 WHERE job_seq = ? AND idx = ?");
      st->bind_all(owner, lease_expires_ms, now, job_seq, picked[last].second);
      st->run();
    }
    shift_counts(job_seq, ItemStatus::kQueued, ItemStatus::kRunning, static_cast<int64_t>(last - first));
    {
      auto st = statements_->use("UPDATE jobs SET status = 'running', started_ms = ? WHERE seq = ? AND status = 'queued'");
      st->bind_all(now, job_seq);
      st->run();
    }
    if (changes() > 0) {
      if (auto job = load_job_by_seq(job_seq)) write_event(*job, "running", now);
    }
    first = last;
  }

  std::vector<Claim> claims;
  claims.reserve(picked.size());
  auto st = statements_->use(fmt::format(
      "SELECT {}, j.model, j.endpoint, j.kind, j.tenant, j.deadline_ms FROM items i JOIN jobs j ON j.seq = i.job_seq "
      "WHERE i.job_seq = ? AND i.idx = ?",
      kItemColumns));
  for (const auto& [job_seq, idx] : picked) {
    st->reset();
    st->bind_all(job_seq, idx);
    if (!st->step()) throw Error(ErrorCode::kInternal, "store: a claimed item vanished");
    Claim claim;
    claim.item = read_item(*st);
    claim.model = st->text(16);
    claim.endpoint = st->text(17);
    claim.kind = st->text(18);
    claim.tenant = st->text(19);
    claim.deadline_ms = st->int64(20);
    claims.push_back(std::move(claim));
  }
  st->reset();
  transaction.commit();
  return claims;
}

JobStore::Renewal SqliteJobStore::renew(const std::string& owner,
                                        const std::vector<std::pair<std::string, int32_t>>& items, int64_t lease_ms) {
  check_lease(lease_ms);
  std::lock_guard lock(mutex_);
  int64_t now = now_ms();
  Transaction transaction(*this);
  Renewal renewal;
  for (const auto& [job_id, index] : items) {
    int64_t job_seq = 0;
    bool held = false, cancel_requested = false;
    {
      auto st = statements_->use(
          "SELECT i.job_seq, i.status = 'running' AND i.lease_owner = ?, j.cancel_requested "
          "FROM items i JOIN jobs j ON j.seq = i.job_seq WHERE j.id = ? AND i.idx = ?");
      st->bind_all(owner, job_id, index);
      if (st->step()) {
        job_seq = st->int64(0);
        held = st->int64(1) != 0;
        cancel_requested = st->int64(2) != 0;
      }
    }
    if (!held) {
      renewal.lost.push_back(item_ref(job_id, index));
      continue;
    }
    auto st = statements_->use("UPDATE items SET lease_expires_ms = ? WHERE job_seq = ? AND idx = ?");
    st->bind_all(now + lease_ms, job_seq, index);
    st->run();
    if (cancel_requested) renewal.cancelled.push_back(item_ref(job_id, index));
  }
  transaction.commit();
  return renewal;
}

bool SqliteJobStore::complete(const std::string& owner, const std::string& job_id, int32_t index,
                              const ItemOutcome& outcome) {
  check_outcome(outcome);
  std::lock_guard lock(mutex_);
  int64_t now = now_ms();
  Transaction transaction(*this);
  int64_t job_seq = find_job_seq(job_id);
  {
    auto st = statements_->use(
        "UPDATE items SET status = ?, http_status = ?, result = ?, error = ?, finished_ms = ?, prompt_tokens = ?, "
        "completion_tokens = ?, cached_tokens = ?, lease_owner = '', lease_expires_ms = 0 "
        "WHERE job_seq = ? AND idx = ? AND status = 'running' AND lease_owner = ?");
    st->bind_all(item_status_name(outcome.status), outcome.http_status, outcome.result, outcome.error, now,
                 outcome.prompt_tokens, outcome.completion_tokens, outcome.cached_tokens, job_seq, index, owner);
    st->run();
  }
  if (changes() == 0) return false;  // not leased to `owner`: rolled back, nothing written
  shift_counts(job_seq, ItemStatus::kRunning, outcome.status, 1);
  {
    auto st = statements_->use(
        "UPDATE jobs SET prompt_tokens = prompt_tokens + ?, completion_tokens = completion_tokens + ?, "
        "cached_tokens = cached_tokens + ? WHERE seq = ?");
    st->bind_all(outcome.prompt_tokens, outcome.completion_tokens, outcome.cached_tokens, job_seq);
    st->run();
  }
  finish_if_done(job_seq, now);
  transaction.commit();
  return true;
}

bool SqliteJobStore::release(const std::string& owner, const std::string& job_id, int32_t index,
                             bool keep_attempt) {
  std::lock_guard lock(mutex_);
  int64_t now = now_ms();
  Transaction transaction(*this);
  int64_t job_seq = 0;
  {
    auto st = statements_->use(
        "SELECT i.job_seq FROM items i JOIN jobs j ON j.seq = i.job_seq "
        "WHERE j.id = ? AND i.idx = ? AND i.status = 'running' AND i.lease_owner = ?");
    st->bind_all(job_id, index, owner);
    if (!st->step()) return false;
    job_seq = st->int64(0);
  }
  unlease(job_seq, index, /*undo_attempt=*/!keep_attempt, now);
  transaction.commit();
  return true;
}

int32_t SqliteJobStore::requeue_expired_leases() {
  std::lock_guard lock(mutex_);
  int64_t now = now_ms();
  Transaction transaction(*this);
  std::vector<std::pair<int64_t, int32_t>> expired;
  {
    auto st = statements_->use(
        "SELECT job_seq, idx FROM items WHERE status = 'running' AND lease_expires_ms <= ? ORDER BY job_seq, idx");
    st->bind_all(now);
    while (st->step()) expired.emplace_back(st->int64(0), static_cast<int32_t>(st->int64(1)));
  }
  // The lost run still counts as an attempt: an item that kills its worker
  // every time must run out of attempts.
  for (const auto& [job_seq, idx] : expired) unlease(job_seq, idx, /*undo_attempt=*/false, now);
  transaction.commit();
  return static_cast<int32_t>(expired.size());
}

int32_t SqliteJobStore::expire_overdue() {
  std::lock_guard lock(mutex_);
  int64_t now = now_ms();
  Transaction transaction(*this);
  int32_t expired = expire_overdue_locked(now);
  transaction.commit();
  return expired;
}

std::optional<Job> SqliteJobStore::cancel(const std::string& job_id) {
  std::lock_guard lock(mutex_);
  int64_t now = now_ms();
  Transaction transaction(*this);
  auto job = load_job(job_id);
  if (!job || is_terminal(job->status)) return job;
  int64_t job_seq = find_job_seq(job_id);
  {
    auto st = statements_->use("UPDATE jobs SET cancel_requested = 1 WHERE seq = ?");
    st->bind_all(job_seq);
    st->run();
  }
  int64_t cancelled = 0;
  {
    auto st = statements_->use(
        "UPDATE items SET status = 'cancelled', error = 'cancelled before it started', finished_ms = ? "
        "WHERE job_seq = ? AND status = 'queued'");
    st->bind_all(now, job_seq);
    st->run();
    cancelled = changes();
  }
  shift_counts(job_seq, ItemStatus::kQueued, ItemStatus::kCancelled, cancelled);
  finish_if_done(job_seq, now);
  auto after = load_job_by_seq(job_seq);
  transaction.commit();
  return after;
}

// ---- webhook deliveries ----

std::vector<Delivery> SqliteJobStore::claim_deliveries(const std::string& owner, int32_t limit, int64_t lease_ms) {
  check_claim(limit, lease_ms);
  if (limit == 0) return {};
  std::lock_guard lock(mutex_);
  int64_t now = now_ms();
  Transaction transaction(*this);
  std::vector<int64_t> picked;
  {
    auto st = statements_->use(
        "SELECT seq FROM deliveries WHERE status = 'pending' AND next_attempt_ms <= ?1 AND lease_expires_ms <= ?1 "
        "ORDER BY seq LIMIT ?2");
    st->bind_all(now, limit);
    while (st->step()) picked.push_back(st->int64(0));
  }
  std::vector<Delivery> deliveries;
  for (int64_t seq : picked) {
    {
      auto st = statements_->use("UPDATE deliveries SET lease_owner = ?, lease_expires_ms = ? WHERE seq = ?");
      st->bind_all(owner, now + lease_ms, seq);
      st->run();
    }
    auto st = statements_->use(fmt::format("SELECT {} FROM deliveries WHERE seq = ?", kDeliveryColumns));
    st->bind_all(seq);
    if (st->step()) deliveries.push_back(read_delivery(*st));
  }
  transaction.commit();
  return deliveries;
}

void SqliteJobStore::mark_delivered(const std::string& event_id, const std::string& url) {
  std::lock_guard lock(mutex_);
  Transaction transaction(*this);
  {
    // A dead delivery that a slow try got through after all is delivered.
    auto st = statements_->use(
        "UPDATE deliveries SET status = 'delivered', lease_owner = '', lease_expires_ms = 0 "
        "WHERE event_id = ? AND url = ? AND status <> 'delivered'");
    st->bind_all(event_id, url);
    st->run();
  }
  if (changes() == 0) {
    auto st = statements_->use("SELECT 1 FROM deliveries WHERE event_id = ? AND url = ?");
    st->bind_all(event_id, url);
    if (!st->step()) throw_error(ErrorCode::kNotFound, "store: no delivery of event {} to {}", event_id, url);
  }
  transaction.commit();
}

void SqliteJobStore::mark_attempt_failed(const std::string& event_id, const std::string& url, const std::string& error,
                                         int64_t next_attempt_ms, bool dead) {
  std::lock_guard lock(mutex_);
  Transaction transaction(*this);
  {
    // Only a pending delivery: one delivered meanwhile by another try stays delivered.
    auto st = statements_->use(
        "UPDATE deliveries SET attempts = attempts + 1, last_error = ?, next_attempt_ms = ?, status = ?, "
        "lease_owner = '', lease_expires_ms = 0 WHERE event_id = ? AND url = ? AND status = 'pending'");
    st->bind_all(error, next_attempt_ms, delivery_status_name(dead ? DeliveryStatus::kDead : DeliveryStatus::kPending),
                 event_id, url);
    st->run();
  }
  if (changes() == 0) {
    auto st = statements_->use("SELECT 1 FROM deliveries WHERE event_id = ? AND url = ?");
    st->bind_all(event_id, url);
    if (!st->step()) throw_error(ErrorCode::kNotFound, "store: no delivery of event {} to {}", event_id, url);
  }
  transaction.commit();
}

std::vector<Delivery> SqliteJobStore::get_deliveries(const std::string& job_id) {
  std::lock_guard lock(mutex_);
  auto st = statements_->use(fmt::format("SELECT {} FROM deliveries WHERE job_id = ? ORDER BY seq", kDeliveryColumns));
  st->bind_all(job_id);
  std::vector<Delivery> deliveries;
  while (st->step()) deliveries.push_back(read_delivery(*st));
  return deliveries;
}

// ---- files ----

StoredFile SqliteJobStore::put_file(const StoredFile& file) {
  std::lock_guard lock(mutex_);
  StoredFile stored = file;
  stored.id = new_id("file-");
  stored.created_ms = now_ms();
  Transaction transaction(*this);
  auto st = statements_->use(
      "INSERT INTO files (id, purpose, filename, tenant, content, created_ms) VALUES (?, ?, ?, ?, ?, ?)");
  st->bind_all(stored.id, stored.purpose, stored.filename, stored.tenant, Blob{stored.content}, stored.created_ms);
  st->run();
  transaction.commit();
  return stored;
}

std::optional<StoredFile> SqliteJobStore::get_file(const std::string& file_id) {
  std::lock_guard lock(mutex_);
  auto st = statements_->use("SELECT id, purpose, filename, tenant, content, created_ms FROM files WHERE id = ?");
  st->bind_all(file_id);
  if (!st->step()) return std::nullopt;
  StoredFile file;
  file.id = st->text(0);
  file.purpose = st->text(1);
  file.filename = st->text(2);
  file.tenant = st->text(3);
  file.content = st->text(4);
  file.created_ms = st->int64(5);
  return file;
}

}  // namespace tether::store
