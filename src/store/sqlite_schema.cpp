#include "store/sqlite_schema.h"

namespace tether::store {

const char* const kSqliteSchema = R"sql(
CREATE TABLE jobs (
  seq INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  kind TEXT NOT NULL,
  model TEXT NOT NULL,
  endpoint TEXT NOT NULL,
  tenant TEXT NOT NULL,
  idempotency_key TEXT NOT NULL,
  webhook_urls TEXT NOT NULL,
  metadata TEXT NOT NULL,
  input_file_id TEXT NOT NULL,
  status TEXT NOT NULL,
  cancel_requested INTEGER NOT NULL DEFAULT 0,
  n_total INTEGER NOT NULL,
  n_queued INTEGER NOT NULL,
  n_running INTEGER NOT NULL DEFAULT 0,
  n_succeeded INTEGER NOT NULL DEFAULT 0,
  n_failed INTEGER NOT NULL DEFAULT 0,
  n_cancelled INTEGER NOT NULL DEFAULT 0,
  n_expired INTEGER NOT NULL DEFAULT 0,
  created_ms INTEGER NOT NULL,
  deadline_ms INTEGER NOT NULL,
  started_ms INTEGER NOT NULL DEFAULT 0,
  finished_ms INTEGER NOT NULL DEFAULT 0,
  prompt_tokens INTEGER NOT NULL DEFAULT 0,
  completion_tokens INTEGER NOT NULL DEFAULT 0,
  cached_tokens INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX jobs_idempotency ON jobs (tenant, idempotency_key) WHERE idempotency_key <> '';
CREATE INDEX jobs_active ON jobs (status) WHERE status IN ('queued', 'running');
CREATE TABLE items (
  job_seq INTEGER NOT NULL REFERENCES jobs (seq),
  idx INTEGER NOT NULL,
  custom_id TEXT NOT NULL,
  request TEXT NOT NULL,
  status TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  http_status INTEGER NOT NULL DEFAULT 0,
  result TEXT NOT NULL DEFAULT '',
  error TEXT NOT NULL DEFAULT '',
  lease_owner TEXT NOT NULL DEFAULT '',
  lease_expires_ms INTEGER NOT NULL DEFAULT 0,
  started_ms INTEGER NOT NULL DEFAULT 0,
  finished_ms INTEGER NOT NULL DEFAULT 0,
  prompt_tokens INTEGER NOT NULL DEFAULT 0,
  completion_tokens INTEGER NOT NULL DEFAULT 0,
  cached_tokens INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (job_seq, idx)
) WITHOUT ROWID;
CREATE INDEX items_queue ON items (status, job_seq, idx);
CREATE INDEX items_leases ON items (lease_expires_ms) WHERE status = 'running';
CREATE TABLE deliveries (
  seq INTEGER PRIMARY KEY,
  event_id TEXT NOT NULL,
  url TEXT NOT NULL,
  job_id TEXT NOT NULL REFERENCES jobs (id),
  event_type TEXT NOT NULL,
  tenant TEXT NOT NULL,
  body TEXT NOT NULL,
  status TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_ms INTEGER NOT NULL,
  last_error TEXT NOT NULL DEFAULT '',
  created_ms INTEGER NOT NULL,
  lease_owner TEXT NOT NULL DEFAULT '',
  lease_expires_ms INTEGER NOT NULL DEFAULT 0,
  UNIQUE (event_id, url)
);
CREATE INDEX deliveries_pending ON deliveries (next_attempt_ms) WHERE status = 'pending';
CREATE INDEX deliveries_by_job ON deliveries (job_id, seq);
CREATE TABLE files (
  id TEXT PRIMARY KEY,
  purpose TEXT NOT NULL,
  filename TEXT NOT NULL,
  tenant TEXT NOT NULL,
  content BLOB NOT NULL,
  created_ms INTEGER NOT NULL
);
)sql";

}  // namespace tether::store
