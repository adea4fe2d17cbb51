#include "store/pg_job_store.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <set>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "store/job_rules.h"
#include "store/store_ids.h"

namespace tether::store {
namespace {

// Serializes schema creation between processes (pg_advisory_xact_lock key).
constexpr int64_t kSchemaLockKey = 0x7465746865720001;  // "tether" + 1
constexpr int kMaxTransactionTries = 5;
// Of the tables below, kept in tether_schema; another version is refused.
constexpr int64_t kSchemaVersion = 1;

// Each statement separately: the extended protocol runs one at a time.
constexpr const char* kSchema[] = {
    R"(CREATE TABLE IF NOT EXISTS tether_jobs (
  seq BIGSERIAL PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  kind TEXT NOT NULL,
  model TEXT NOT NULL,
  endpoint TEXT NOT NULL,
  tenant TEXT NOT NULL,
  idempotency_key TEXT NOT NULL,
  webhook_urls TEXT NOT NULL,
  status TEXT NOT NULL,
  cancel_requested BOOLEAN NOT NULL DEFAULT FALSE,
  created_ms BIGINT NOT NULL,
  deadline_ms BIGINT NOT NULL,
  started_ms BIGINT NOT NULL DEFAULT 0,
  finished_ms BIGINT NOT NULL DEFAULT 0,
  metadata TEXT NOT NULL,
  input_file_id TEXT NOT NULL))",
    R"(CREATE UNIQUE INDEX IF NOT EXISTS tether_jobs_idempotency
  ON tether_jobs (tenant, idempotency_key) WHERE idempotency_key <> '')",
    R"(CREATE INDEX IF NOT EXISTS tether_jobs_overdue
  ON tether_jobs (deadline_ms) WHERE deadline_ms > 0 AND status IN ('queued', 'running'))",
    R"(CREATE INDEX IF NOT EXISTS tether_jobs_tenant ON tether_jobs (tenant, seq))",
    R"(CREATE TABLE IF NOT EXISTS tether_items (
  job_seq BIGINT NOT NULL REFERENCES tether_jobs (seq) ON DELETE CASCADE,
  idx INTEGER NOT NULL,
  custom_id TEXT NOT NULL,
  request TEXT NOT NULL,
  status TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  http_status INTEGER NOT NULL DEFAULT 0,
  result TEXT NOT NULL DEFAULT '',
  error TEXT NOT NULL DEFAULT '',
  lease_owner TEXT NOT NULL DEFAULT '',
  lease_expires_ms BIGINT NOT NULL DEFAULT 0,
  started_ms BIGINT NOT NULL DEFAULT 0,
  finished_ms BIGINT NOT NULL DEFAULT 0,
  prompt_tokens BIGINT NOT NULL DEFAULT 0,
  completion_tokens BIGINT NOT NULL DEFAULT 0,
  cached_tokens BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (job_seq, idx)))",
    R"(CREATE INDEX IF NOT EXISTS tether_items_queued ON tether_items (job_seq, idx) WHERE status = 'queued')",
    R"(CREATE INDEX IF NOT EXISTS tether_items_running ON tether_items (lease_expires_ms) WHERE status = 'running')",
    R"(CREATE INDEX IF NOT EXISTS tether_items_unfinished
  ON tether_items (job_seq) WHERE status IN ('queued', 'running'))",
    R"(CREATE TABLE IF NOT EXISTS tether_deliveries (
  seq BIGSERIAL PRIMARY KEY,
  event_id TEXT NOT NULL,
  url TEXT NOT NULL,
  job_id TEXT NOT NULL,
  event_type TEXT NOT NULL,
  tenant TEXT NOT NULL,
  body TEXT NOT NULL,
  status TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_ms BIGINT NOT NULL,
  last_error TEXT NOT NULL DEFAULT '',
  created_ms BIGINT NOT NULL,
  lease_owner TEXT NOT NULL DEFAULT '',
  lease_expires_ms BIGINT NOT NULL DEFAULT 0,
  UNIQUE (event_id, url)))",
    R"(CREATE INDEX IF NOT EXISTS tether_deliveries_due ON tether_deliveries (seq) WHERE status = 'pending')",
    R"(CREATE INDEX IF NOT EXISTS tether_deliveries_job ON tether_deliveries (job_id, seq))",
    R"(CREATE TABLE IF NOT EXISTS tether_files (
  id TEXT PRIMARY KEY,
  purpose TEXT NOT NULL,
  filename TEXT NOT NULL,
  tenant TEXT NOT NULL,
  content BYTEA NOT NULL,
  created_ms BIGINT NOT NULL))",
};

// A job with its counts and token sums, computed from its items.
const std::string kSelectJob = R"(SELECT j.seq, j.id, j.kind, j.model, j.endpoint, j.tenant, j.idempotency_key,
  j.webhook_urls, j.status, j.cancel_requested, j.created_ms, j.deadline_ms, j.started_ms, j.finished_ms,
  j.metadata, j.input_file_id, c.total, c.queued, c.running, c.succeeded, c.failed, c.cancelled, c.expired,
  c.prompt_tokens, c.completion_tokens, c.cached_tokens
FROM tether_jobs j CROSS JOIN LATERAL (
  SELECT count(*) AS total,
    count(*) FILTER (WHERE status = 'queued') AS queued,
    count(*) FILTER (WHERE status = 'running') AS running,
    count(*) FILTER (WHERE status = 'succeeded') AS succeeded,
    count(*) FILTER (WHERE status = 'failed') AS failed,
    count(*) FILTER (WHERE status = 'cancelled') AS cancelled,
    count(*) FILTER (WHERE status = 'expired') AS expired,
    coalesce(sum(prompt_tokens), 0) AS prompt_tokens,
    coalesce(sum(completion_tokens), 0) AS completion_tokens,
    coalesce(sum(cached_tokens), 0) AS cached_tokens
  FROM tether_items WHERE job_seq = j.seq) c
)";

Job read_job(const PgResult& result, int row) {
  Job job;
  job.id = result.text(row, 1);
  job.kind = result.text(row, 2);
  job.model = result.text(row, 3);
  job.endpoint = result.text(row, 4);
  job.tenant = result.text(row, 5);
  job.idempotency_key = result.text(row, 6);
  job.webhook_urls = decode_string_list(result.get(row, 7), fmt::format("the webhook_urls of job {}", job.id));
  job.status = parse_job_status(result.get(row, 8));
  job.cancel_requested = result.boolean(row, 9);
  job.created_ms = result.int64(row, 10);
  job.deadline_ms = result.int64(row, 11);
  job.started_ms = result.int64(row, 12);
  job.finished_ms = result.int64(row, 13);
  job.metadata = result.text(row, 14);
  job.input_file_id = result.text(row, 15);
  job.counts.total = static_cast<int32_t>(result.int64(row, 16));
  job.counts.queued = static_cast<int32_t>(result.int64(row, 17));
  job.counts.running = static_cast<int32_t>(result.int64(row, 18));
  job.counts.succeeded = static_cast<int32_t>(result.int64(row, 19));
  job.counts.failed = static_cast<int32_t>(result.int64(row, 20));
  job.counts.cancelled = static_cast<int32_t>(result.int64(row, 21));
  job.counts.expired = static_cast<int32_t>(result.int64(row, 22));
  job.prompt_tokens = result.int64(row, 23);
  job.completion_tokens = result.int64(row, 24);
  job.cached_tokens = result.int64(row, 25);
  return job;
}

// The item columns, in the order read_item reads them (from `first`).
constexpr const char* kItemColumns =
    "i.idx, i.custom_id, i.request, i.status, i.attempts, i.http_status, i.result, i.error, i.lease_owner, "
    "i.lease_expires_ms, i.started_ms, i.finished_ms, i.prompt_tokens, i.completion_tokens, i.cached_tokens";

Item read_item(const PgResult& result, int row, int first, std::string job_id) {
  Item item;
  item.job_id = std::move(job_id);
  item.index = static_cast<int32_t>(result.int64(row, first));
  item.custom_id = result.text(row, first + 1);
  item.request = result.text(row, first + 2);
  item.status = parse_item_status(result.get(row, first + 3));
  item.attempts = static_cast<int32_t>(result.int64(row, first + 4));
  item.http_status = static_cast<int32_t>(result.int64(row, first + 5));
  item.result = result.text(row, first + 6);
  item.error = result.text(row, first + 7);
  item.lease_owner = result.text(row, first + 8);
  item.lease_expires_ms = result.int64(row, first + 9);
  item.started_ms = result.int64(row, first + 10);
  item.finished_ms = result.int64(row, first + 11);
  item.prompt_tokens = result.int64(row, first + 12);
  item.completion_tokens = result.int64(row, first + 13);
  item.cached_tokens = result.int64(row, first + 14);
  return item;
}

constexpr const char* kDeliveryColumns =
    "seq, event_id, job_id, event_type, url, tenant, body, status, attempts, next_attempt_ms, last_error, created_ms";

Delivery read_delivery(const PgResult& result, int row) {
  Delivery delivery;
  delivery.event_id = result.text(row, 1);
  delivery.job_id = result.text(row, 2);
  delivery.event_type = result.text(row, 3);
  delivery.url = result.text(row, 4);
  delivery.tenant = result.text(row, 5);
  delivery.body = result.text(row, 6);
  delivery.status = parse_delivery_status(result.get(row, 7));
  delivery.attempts = static_cast<int32_t>(result.int64(row, 8));
  delivery.next_attempt_ms = result.int64(row, 9);
  delivery.last_error = result.text(row, 10);
  delivery.created_ms = result.int64(row, 11);
  return delivery;
}

void require_delivery(PgConnection& conn, const std::string& event_id, const std::string& url) {
  PgResult found = conn.exec("find delivery", "SELECT 1 FROM tether_deliveries WHERE event_id = $1 AND url = $2",
                             PgParams().text(event_id).text(url));
  if (found.rows() == 0) throw_error(ErrorCode::kNotFound, "store: no delivery of event {} to {}", event_id, url);
}

void rollback_quietly(PgConnection& conn) {
  if (!conn.ok()) return;
  try {
    conn.exec_simple("rollback", "ROLLBACK");
  } catch (const Error&) {
    // The connection broke; the pool reconnects it before its next use.
  }
}

}  // namespace

template <typename Fn>
auto PgJobStore::transact(Fn&& fn) -> decltype(fn(std::declval<PgConnection&>())) {
  for (int attempt = 1;; ++attempt) {
    auto conn = pool_->acquire();
    try {
      conn->exec_simple("begin", "BEGIN");
      auto result = fn(*conn);
      conn->exec_simple("commit", "COMMIT");
      return result;
    } catch (const PgError& error) {
      rollback_quietly(*conn);
      if (!error.retryable() || attempt == kMaxTransactionTries) throw;
    } catch (...) {
      rollback_quietly(*conn);
      throw;
    }
  }
}

PgJobStore::PgJobStore(const std::string& conninfo, StoreOptions options, int pool_size)
    : clock_(std::move(options.clock)), pool_(std::make_unique<PgPool>(conninfo, pool_size)) {
  create_schema();
}

void PgJobStore::create_schema() {
  transact([](PgConnection& conn) {
    conn.exec("schema lock", "SELECT pg_advisory_xact_lock($1::bigint)", PgParams().int64(kSchemaLockKey));
    conn.exec("create schema", "CREATE TABLE IF NOT EXISTS tether_schema (version INTEGER NOT NULL)");
    PgResult version = conn.exec("read schema version", "SELECT version FROM tether_schema");
    if (version.rows() == 0) {
      conn.exec("write schema version", "INSERT INTO tether_schema (version) VALUES ($1::integer)",
                PgParams().int64(kSchemaVersion));
    } else if (version.rows() != 1 || version.int64(0, 0) != kSchemaVersion) {
      throw_error(ErrorCode::kCorruptData, "postgres: job store schema version {} (this tether reads version {})",
                  version.rows() == 1 ? version.text(0, 0) : "unknown", kSchemaVersion);
    }
    for (const char* statement : kSchema) conn.exec("create schema", statement);
    return true;
  });
}

int64_t PgJobStore::now_ms() {
  if (clock_) return clock_();
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::optional<Job> PgJobStore::load_job(PgConnection& conn, std::string_view where, const PgParams& params) {
  std::string sql = kSelectJob + "WHERE " + std::string(where);
  PgResult result = conn.exec("read job", sql.c_str(), params);
  if (result.rows() == 0) return std::nullopt;
  return read_job(result, 0);
}

void PgJobStore::write_event(PgConnection& conn, const Job& job, std::string_view event_type, int64_t now) {
  if (job.webhook_urls.empty()) return;
  std::string event_id = new_id("evt_");
  std::string body = event_body(event_type, job, event_id, now);
  for (const auto& url : job.webhook_urls) {
    conn.exec("write delivery",
              "INSERT INTO tether_deliveries (event_id, url, job_id, event_type, tenant, body, status, "
              "next_attempt_ms, created_ms) VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7::bigint, $7::bigint) "
              "ON CONFLICT (event_id, url) DO NOTHING",
              PgParams().text(event_id).text(url).text(job.id).text(event_type).text(job.tenant).text(body).int64(now));
  }
}

PgJobStore::Submitted PgJobStore::submit(const NewJob& new_job) {
  check_new_job(new_job);
  boost::json::array items;
  for (const auto& item : new_job.items) items.push_back(boost::json::array{item.custom_id, item.request});
  std::string items_json = boost::json::serialize(items);
  std::string urls_json = encode_string_list(new_job.webhook_urls);

  return transact([&](PgConnection& conn) -> Submitted {
    int64_t now = now_ms();
    std::string job_id = new_id("job_");
    // A concurrent submit with the same key waits here for the other to
    // commit, then inserts nothing and reads the job that one made.
    PgResult inserted = conn.exec(
        "submit",
        "INSERT INTO tether_jobs (id, kind, model, endpoint, tenant, idempotency_key, webhook_urls, status, "
        "created_ms, deadline_ms, metadata, input_file_id) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, 'queued', $8::bigint, $9::bigint, $10, $11) "
        "ON CONFLICT (tenant, idempotency_key) WHERE idempotency_key <> '' DO NOTHING RETURNING seq",
        PgParams()
            .text(job_id)
            .text(new_job.kind)
            .text(new_job.model)
            .text(new_job.endpoint)
            .text(new_job.tenant)
            .text(new_job.idempotency_key)
            .text(urls_json)
            .int64(now)
            .int64(new_job.deadline_ms)
            .text(new_job.metadata)
            .text(new_job.input_file_id));
    if (inserted.rows() == 0) {
      auto existing = load_job(conn, "j.tenant = $1 AND j.idempotency_key = $2 AND j.idempotency_key <> ''",
                               PgParams().text(new_job.tenant).text(new_job.idempotency_key));
      // Only a job deleted meanwhile leaves nothing to read: run again.
      if (!existing) throw PgError("postgres: submit: the job with this idempotency key vanished", "40001");
      return {std::move(*existing), true};
    }
    int64_t job_seq = inserted.int64(0, 0);
    conn.exec("submit items",
              "INSERT INTO tether_items (job_seq, idx, custom_id, request, status) "
              "SELECT $1::bigint, (t.ord - 1)::integer, t.e->>0, t.e->>1, 'queued' "
              "FROM json_array_elements($2::json) WITH ORDINALITY AS t(e, ord)",
              PgParams().int64(job_seq).text(items_json));
    Job job = *load_job(conn, "j.seq = $1::bigint", PgParams().int64(job_seq));
    write_event(conn, job, "queued", now);
    return {std::move(job), false};
  });
}

std::optional<Job> PgJobStore::get_job(const std::string& job_id) {
  auto conn = pool_->acquire();
  return load_job(*conn, "j.id = $1", PgParams().text(job_id));
}

std::vector<Job> PgJobStore::list_jobs(const JobFilter& filter) {
  check_filter(filter);
  auto conn = pool_->acquire();
  std::string sql = kSelectJob +
                    "WHERE ($1::text = '' OR j.status = $1::text) "
                    "AND ($2::bigint = 0 OR j.tenant = $3::text) AND ($4::text = '' OR j.kind = $4::text) "
                    "AND ($5::text = '' OR j.seq < (SELECT seq FROM tether_jobs WHERE id = $5::text)) "
                    "ORDER BY j.seq DESC LIMIT $6::bigint";
  std::string status = filter.status ? std::string(job_status_name(*filter.status)) : "";
  PgResult result = conn->exec("list jobs", sql.c_str(),
                               PgParams()
                                   .text(status)
                                   .int64(filter.tenant.has_value() ? 1 : 0)
                                   .text(filter.tenant.value_or(std::string()))
                                   .text(filter.kind)
                                   .text(filter.after)
                                   .int64(std::max<int32_t>(filter.limit, 0)));
  std::vector<Job> jobs;
  for (int row = 0; row < result.rows(); ++row) jobs.push_back(read_job(result, row));
  return jobs;
}

std::vector<Item> PgJobStore::get_items(const std::string& job_id) {
  auto conn = pool_->acquire();
  std::string sql = fmt::format(
      "SELECT {} FROM tether_items i JOIN tether_jobs j ON j.seq = i.job_seq WHERE j.id = $1 ORDER BY i.idx",
      kItemColumns);
  PgResult result = conn->exec("read items", sql.c_str(), PgParams().text(job_id));
  std::vector<Item> items;
  items.reserve(static_cast<size_t>(result.rows()));
  for (int row = 0; row < result.rows(); ++row) items.push_back(read_item(result, row, 0, job_id));
  return items;
}

std::vector<Claim> PgJobStore::claim(const std::string& owner, const std::vector<std::string>& models,
                                     int32_t limit, int64_t lease_ms) {
  check_claim(limit, lease_ms);
  check_owner(owner);
  if (limit == 0) return {};
  std::string models_json = models.empty() ? "" : encode_string_list(models);
  static const std::string sql = fmt::format(
      "WITH picked AS ("
      "  SELECT i.job_seq, i.idx FROM tether_items i JOIN tether_jobs j ON j.seq = i.job_seq"
      "  WHERE i.status = 'queued' AND NOT j.cancel_requested"
      "    AND (j.deadline_ms = 0 OR j.deadline_ms > $3::bigint)"
      "    AND ($4::text = '' OR j.model IN (SELECT json_array_elements_text(nullif($4::text, '')::json)))"
      "  ORDER BY i.job_seq, i.idx LIMIT $5::bigint"
      "  FOR UPDATE OF i SKIP LOCKED) "
      "UPDATE tether_items i SET status = 'running', attempts = i.attempts + 1, lease_owner = $1::text,"
      "  lease_expires_ms = $2::bigint, started_ms = $3::bigint, finished_ms = 0 "
      "FROM picked JOIN tether_jobs j ON j.seq = picked.job_seq "
      "WHERE i.job_seq = picked.job_seq AND i.idx = picked.idx "
      "RETURNING i.job_seq, j.id, j.model, j.endpoint, j.kind, j.tenant, j.deadline_ms, {}",
      kItemColumns);

  return transact([&](PgConnection& conn) {
    int64_t now = now_ms();
    expire_overdue_in(conn, now);  // what is past its deadline leaves the queue first
    PgResult result = conn.exec(
        "claim", sql.c_str(),
        PgParams().text(owner).int64(now + lease_ms).int64(now).text(models_json).int64(limit));
    std::vector<std::pair<int64_t, Claim>> claimed;
    for (int row = 0; row < result.rows(); ++row) {
      Claim claim;
      claim.item = read_item(result, row, 7, result.text(row, 1));
      claim.model = result.text(row, 2);
      claim.endpoint = result.text(row, 3);
      claim.kind = result.text(row, 4);
      claim.tenant = result.text(row, 5);
      claim.deadline_ms = result.int64(row, 6);
      claimed.emplace_back(result.int64(row, 0), std::move(claim));
    }
    std::sort(claimed.begin(), claimed.end(), [](const auto& a, const auto& b) {
      return a.first != b.first ? a.first < b.first : a.second.item.index < b.second.item.index;
    });
    // The first claim of a job starts it; job rows in creation order.
    std::set<int64_t> job_seqs;
    for (const auto& [job_seq, claim] : claimed) job_seqs.insert(job_seq);
    for (int64_t job_seq : job_seqs) {
      PgResult started = conn.exec("start job",
                                   "UPDATE tether_jobs SET status = 'running', started_ms = $2::bigint "
                                   "WHERE seq = $1::bigint AND status = 'queued' RETURNING seq",
                                   PgParams().int64(job_seq).int64(now));
      if (started.rows() == 1) {
        write_event(conn, *load_job(conn, "j.seq = $1::bigint", PgParams().int64(job_seq)), "running", now);
      }
    }
    std::vector<Claim> claims;
    claims.reserve(claimed.size());
    for (auto& entry : claimed) claims.push_back(std::move(entry.second));
    return claims;
  });
}

JobStore::Renewal PgJobStore::renew(const std::string& owner, const std::vector<std::pair<std::string, int32_t>>& items,
                                    int64_t lease_ms) {
  check_lease(lease_ms);
  Renewal renewal;
  if (items.empty()) return renewal;
  boost::json::array keys;
  for (const auto& [job_id, index] : items) keys.push_back(boost::json::array{job_id, index});
  std::string keys_json = boost::json::serialize(keys);
  return transact([&](PgConnection& conn) {
    int64_t now = now_ms();
    PgResult result = conn.exec(
        "renew",
        "UPDATE tether_items i SET lease_expires_ms = $3::bigint "
        "FROM tether_jobs j, json_array_elements($1::json) AS k(e) "
        "WHERE j.id = k.e->>0 AND i.job_seq = j.seq AND i.idx = (k.e->>1)::integer "
        "  AND i.status = 'running' AND i.lease_owner = $2::text "
        "RETURNING j.id, i.idx, j.cancel_requested",
        PgParams().text(keys_json).text(owner).int64(now + lease_ms));
    std::set<std::string> held;
    Renewal out;
    for (int row = 0; row < result.rows(); ++row) {
      std::string key = item_ref(result.get(row, 0), static_cast<int32_t>(result.int64(row, 1)));
      if (result.boolean(row, 2)) out.cancelled.push_back(key);
      held.insert(std::move(key));
    }
    for (const auto& [job_id, index] : items) {
      std::string key = item_ref(job_id, index);
      if (!held.contains(key)) out.lost.push_back(std::move(key));
    }
    return out;
  });
}

void PgJobStore::finish_if_done(PgConnection& conn, int64_t job_seq, int64_t now) {
  // Locking the job row serializes the completions of its last items; each
  // statement after it sees what the others committed.
  PgResult job = conn.exec("lock job", "SELECT status, cancel_requested FROM tether_jobs WHERE seq = $1::bigint FOR UPDATE",
                           PgParams().int64(job_seq));
  if (job.rows() == 0 || is_terminal(parse_job_status(job.get(0, 0)))) return;
  PgResult unfinished =
      conn.exec("check job", "SELECT 1 FROM tether_items WHERE job_seq = $1::bigint AND status IN ('queued', 'running') LIMIT 1",
                PgParams().int64(job_seq));
  if (unfinished.rows() > 0) return;
  Job current = *load_job(conn, "j.seq = $1::bigint", PgParams().int64(job_seq));
  JobStatus status = terminal_status(current.cancel_requested, current.counts);
  conn.exec("finish job", "UPDATE tether_jobs SET status = $2, finished_ms = $3::bigint WHERE seq = $1::bigint",
            PgParams().int64(job_seq).text(job_status_name(status)).int64(now));
  current.status = status;
  current.finished_ms = now;
  write_event(conn, current, terminal_event(status), now);
}

bool PgJobStore::complete(const std::string& owner, const std::string& job_id, int32_t index,
                          const ItemOutcome& outcome) {
  check_outcome(outcome);
  return transact([&](PgConnection& conn) {
    int64_t now = now_ms();
    PgResult result = conn.exec(
        "complete",
        "UPDATE tether_items i SET status = $4, http_status = $5::integer, result = $6, error = $7, "
        "  prompt_tokens = $8::bigint, completion_tokens = $9::bigint, cached_tokens = $10::bigint, "
        "  finished_ms = $11::bigint, lease_owner = '', lease_expires_ms = 0 "
        "FROM tether_jobs j WHERE j.id = $1 AND i.job_seq = j.seq AND i.idx = $2::integer "
        "  AND i.status = 'running' AND i.lease_owner = $3 RETURNING i.job_seq",
        PgParams()
            .text(job_id)
            .int64(index)
            .text(owner)
            .text(item_status_name(outcome.status))
            .int64(outcome.http_status)
            .text(outcome.result)
            .text(outcome.error)
            .int64(outcome.prompt_tokens)
            .int64(outcome.completion_tokens)
            .int64(outcome.cached_tokens)
            .int64(now));
    if (result.rows() == 0) return false;
    finish_if_done(conn, result.int64(0, 0), now);
    return true;
  });
}

void PgJobStore::unlease(PgConnection& conn, int64_t job_seq, int32_t index, bool undo_attempt, int64_t now) {
  // Read after the item is locked: a cancel locks every item of its job
  // before it sets the flag, so this sees the flag of any cancel before it.
  PgResult job = conn.exec("read job", "SELECT cancel_requested FROM tether_jobs WHERE seq = $1::bigint",
                           PgParams().int64(job_seq));
  bool cancelled = job.rows() == 1 && job.boolean(0, 0);
  int64_t undo = undo_attempt ? 1 : 0;
  if (cancelled) {
    conn.exec("unlease",
              "UPDATE tether_items SET status = 'cancelled', error = 'cancelled', finished_ms = $4::bigint, "
              "  attempts = greatest(attempts - $3::integer, 0), lease_owner = '', lease_expires_ms = 0 "
              "WHERE job_seq = $1::bigint AND idx = $2::integer",
              PgParams().int64(job_seq).int64(index).int64(undo).int64(now));
    finish_if_done(conn, job_seq, now);
  } else {
    conn.exec("unlease",
              "UPDATE tether_items SET status = 'queued', attempts = greatest(attempts - $3::integer, 0), lease_owner = '', "
              "  lease_expires_ms = 0 WHERE job_seq = $1::bigint AND idx = $2::integer",
              PgParams().int64(job_seq).int64(index).int64(undo));
  }
}

bool PgJobStore::release(const std::string& owner, const std::string& job_id, int32_t index, bool keep_attempt) {
  return transact([&](PgConnection& conn) {
    PgResult item = conn.exec("release",
                              "SELECT i.job_seq FROM tether_items i JOIN tether_jobs j ON j.seq = i.job_seq "
                              "WHERE j.id = $1 AND i.idx = $2::integer AND i.status = 'running' "
                              "  AND i.lease_owner = $3 FOR UPDATE OF i",
                              PgParams().text(job_id).int64(index).text(owner));
    if (item.rows() == 0) return false;
    unlease(conn, item.int64(0, 0), index, /*undo_attempt=*/!keep_attempt, now_ms());
    return true;
  });
}

int32_t PgJobStore::requeue_expired_leases() {
  return transact([&](PgConnection& conn) {
    int64_t now = now_ms();
    // SKIP LOCKED: an item locked now is being completed or released.
    PgResult expired = conn.exec("requeue",
                                 "SELECT job_seq, idx FROM tether_items WHERE status = 'running' "
                                 "AND lease_expires_ms <= $1::bigint ORDER BY job_seq, idx FOR UPDATE SKIP LOCKED",
                                 PgParams().int64(now));
    for (int row = 0; row < expired.rows(); ++row) {
      unlease(conn, expired.int64(row, 0), static_cast<int32_t>(expired.int64(row, 1)), false, now);
    }
    return static_cast<int32_t>(expired.rows());
  });
}

void PgJobStore::lock_job_items(PgConnection& conn, int64_t job_seq) {
  conn.exec("lock items", "SELECT idx FROM tether_items WHERE job_seq = $1::bigint ORDER BY idx FOR UPDATE",
            PgParams().int64(job_seq));
}

int32_t PgJobStore::expire_overdue_in(PgConnection& conn, int64_t now) {
  PgResult jobs = conn.exec("expire",
                            "SELECT seq FROM tether_jobs WHERE deadline_ms > 0 AND deadline_ms <= $1::bigint "
                            "AND status IN ('queued', 'running') ORDER BY seq",
                            PgParams().int64(now));
  int32_t expired = 0;
  for (int row = 0; row < jobs.rows(); ++row) {
    int64_t job_seq = jobs.int64(row, 0);
    lock_job_items(conn, job_seq);
    PgResult items = conn.exec(
        "expire items",
        "UPDATE tether_items SET status = 'expired', error = 'the job passed its deadline before this item started', "
        "  finished_ms = $2::bigint WHERE job_seq = $1::bigint AND status = 'queued'",
        PgParams().int64(job_seq).int64(now));
    expired += items.affected();
    finish_if_done(conn, job_seq, now);
  }
  return expired;
}

int32_t PgJobStore::expire_overdue() {
  return transact([&](PgConnection& conn) { return expire_overdue_in(conn, now_ms()); });
}

std::optional<Job> PgJobStore::cancel(const std::string& job_id) {
  return transact([&](PgConnection& conn) -> std::optional<Job> {
    int64_t now = now_ms();
    PgResult job = conn.exec("cancel", "SELECT seq FROM tether_jobs WHERE id = $1", PgParams().text(job_id));
    if (job.rows() == 0) return std::nullopt;
    int64_t job_seq = job.int64(0, 0);
    lock_job_items(conn, job_seq);
    PgResult flagged = conn.exec("cancel",
                                 "UPDATE tether_jobs SET cancel_requested = TRUE "
                                 "WHERE seq = $1::bigint AND status IN ('queued', 'running') RETURNING seq",
                                 PgParams().int64(job_seq));
    if (flagged.rows() == 1) {
      conn.exec("cancel items",
                "UPDATE tether_items SET status = 'cancelled', error = 'cancelled before it started', "
                "  finished_ms = $2::bigint WHERE job_seq = $1::bigint AND status = 'queued'",
                PgParams().int64(job_seq).int64(now));
      finish_if_done(conn, job_seq, now);
    }
    return load_job(conn, "j.seq = $1::bigint", PgParams().int64(job_seq));
  });
}

std::vector<Delivery> PgJobStore::claim_deliveries(const std::string& owner, int32_t limit, int64_t lease_ms) {
  check_claim(limit, lease_ms);
  if (limit == 0) return {};
  static const std::string sql = fmt::format(
      "WITH picked AS (SELECT seq FROM tether_deliveries WHERE status = 'pending' "
      "  AND next_attempt_ms <= $3::bigint AND lease_expires_ms <= $3::bigint "
      "  ORDER BY seq LIMIT $4::bigint FOR UPDATE SKIP LOCKED) "
      "UPDATE tether_deliveries d SET lease_owner = $1, lease_expires_ms = $2::bigint FROM picked "
      "WHERE d.seq = picked.seq RETURNING d.{}",
      fmt::join(std::vector<std::string_view>{"seq", "event_id", "job_id", "event_type", "url", "tenant", "body",
                                              "status", "attempts", "next_attempt_ms", "last_error", "created_ms"},
                ", d."));
  return transact([&](PgConnection& conn) {
    int64_t now = now_ms();
    PgResult result =
        conn.exec("claim deliveries", sql.c_str(), PgParams().text(owner).int64(now + lease_ms).int64(now).int64(limit));
    std::vector<std::pair<int64_t, Delivery>> rows;
    for (int row = 0; row < result.rows(); ++row) rows.emplace_back(result.int64(row, 0), read_delivery(result, row));
    std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<Delivery> deliveries;
    for (auto& row : rows) deliveries.push_back(std::move(row.second));
    return deliveries;
  });
}

void PgJobStore::mark_delivered(const std::string& event_id, const std::string& url) {
  transact([&](PgConnection& conn) {
    // A dead delivery that a slow try got through after all is delivered.
    PgResult updated = conn.exec("mark delivered",
                                 "UPDATE tether_deliveries SET status = 'delivered', lease_owner = '', "
                                 "lease_expires_ms = 0 WHERE event_id = $1 AND url = $2 AND status <> 'delivered'",
                                 PgParams().text(event_id).text(url));
    if (updated.affected() == 0) require_delivery(conn, event_id, url);
    return true;
  });
}

void PgJobStore::mark_attempt_failed(const std::string& event_id, const std::string& url, const std::string& error,
                                     int64_t next_attempt_ms, bool dead) {
  transact([&](PgConnection& conn) {
    // Only a pending delivery: one delivered meanwhile by another try stays delivered.
    PgResult updated = conn.exec(
        "mark failed",
        "UPDATE tether_deliveries SET status = $5, attempts = attempts + 1, last_error = $3, "
        "next_attempt_ms = $4::bigint, lease_owner = '', lease_expires_ms = 0 "
        "WHERE event_id = $1 AND url = $2 AND status = 'pending'",
        PgParams().text(event_id).text(url).text(error).int64(next_attempt_ms).text(
            delivery_status_name(dead ? DeliveryStatus::kDead : DeliveryStatus::kPending)));
    if (updated.affected() == 0) require_delivery(conn, event_id, url);
    return true;
  });
}

std::vector<Delivery> PgJobStore::get_deliveries(const std::string& job_id) {
  auto conn = pool_->acquire();
  std::string sql = fmt::format("SELECT {} FROM tether_deliveries WHERE job_id = $1 ORDER BY seq", kDeliveryColumns);
  PgResult result = conn->exec("read deliveries", sql.c_str(), PgParams().text(job_id));
  std::vector<Delivery> deliveries;
  for (int row = 0; row < result.rows(); ++row) deliveries.push_back(read_delivery(result, row));
  return deliveries;
}

StoredFile PgJobStore::put_file(const StoredFile& file) {
  StoredFile stored = file;
  stored.id = new_id("file-");
  stored.created_ms = now_ms();
  transact([&](PgConnection& conn) {
    conn.exec("put file",
              "INSERT INTO tether_files (id, purpose, filename, tenant, content, created_ms) "
              "VALUES ($1, $2, $3, $4, $5, $6::bigint)",
              PgParams()
                  .text(stored.id)
                  .text(stored.purpose)
                  .text(stored.filename)
                  .text(stored.tenant)
                  .binary(stored.content)
                  .int64(stored.created_ms));
    return true;
  });
  return stored;
}

std::optional<StoredFile> PgJobStore::get_file(const std::string& file_id) {
  auto conn = pool_->acquire();
  // Binary results: the content comes back as its bytes, unescaped.
  PgResult result = conn->exec("read file",
                               "SELECT id, purpose, filename, tenant, content, created_ms FROM tether_files "
                               "WHERE id = $1",
                               PgParams().text(file_id), /*binary_result=*/true);
  if (result.rows() == 0) return std::nullopt;
  StoredFile file;
  file.id = result.text(0, 0);
  file.purpose = result.text(0, 1);
  file.filename = result.text(0, 2);
  file.tenant = result.text(0, 3);
  file.content = result.text(0, 4);
  file.created_ms = pg_binary_int64(result.get(0, 5));
  return file;
}

}  // namespace tether::store
