#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tether::store {

// The durable async queue. A job is one submission (a Workers AI
// `requests` array, an OpenAI batch, or one chat request sent with
// x-tether-async); it holds one or more items, each one inference request
// that runs, and is retried, on its own. Everything here is committed
// before the call returns: a caller may acknowledge what a call reported.
//
// Two backends with one contract (tests/store/job_store_contract_test.cpp
// runs both): SQLite (WAL, synchronous=FULL; one process) and PostgreSQL
// (several gateway processes on one database: claims take rows with
// FOR UPDATE SKIP LOCKED, and a lease that is not renewed expires, so a
// crashed worker's items return to the queue).
//
// Thread-safe. Calls block on the database: call them off network threads
// (see run_blocking in store/blocking.h).

enum class JobStatus { kQueued, kRunning, kSucceeded, kFailed, kCancelled, kExpired };
enum class ItemStatus { kQueued, kRunning, kSucceeded, kFailed, kCancelled, kExpired };

std::string_view job_status_name(JobStatus status);    // "queued", "running", ...
std::string_view item_status_name(ItemStatus status);  // same names
bool is_terminal(JobStatus status);
bool is_terminal(ItemStatus status);
// Error(kCorruptData) for an unknown name (a row written by something else).
JobStatus parse_job_status(std::string_view name);
ItemStatus parse_item_status(std::string_view name);

// An item's reference, "job_id/index": in Renewal, request ids and outputs.
std::string item_ref(std::string_view job_id, int32_t index);

struct NewItem {
  std::string custom_id;  // OpenAI custom_id / Workers AI external_reference (JSON text, "" = none)
  std::string request;    // the request body to run, JSON text
};

struct NewJob {
  std::string kind;      // "workers_ai", "batch" (OpenAI Batch API) or "single" (x-tether-async)
  std::string model;     // the model (or alias) the items run on
  std::string endpoint;  // "/v1/chat/completions", "/v1/completions" or "/ai/run"
  std::string tenant;    // who submitted (API key id); "" = the default tenant
  // With a key, a second submit with the same (tenant, key) returns the
  // first job and stores nothing.
  std::string idempotency_key;
  std::vector<std::string> webhook_urls;  // every event of this job goes to each
  int64_t deadline_ms = 0;                // unix ms; 0 = none. Items not started by then expire
  std::string metadata;                   // JSON object text, "" = none
  std::string input_file_id;              // OpenAI batches
  std::vector<NewItem> items;             // at least one
};

struct JobCounts {
  int32_t total = 0;
  int32_t queued = 0, running = 0, succeeded = 0, failed = 0, cancelled = 0, expired = 0;
};

struct Job {
  std::string id;  // "job_" + 24 hex digits, made by the store
  std::string kind, model, endpoint, tenant, idempotency_key, metadata, input_file_id;
  std::vector<std::string> webhook_urls;
  JobStatus status = JobStatus::kQueued;
  bool cancel_requested = false;
  JobCounts counts;
  int64_t created_ms = 0;
  int64_t deadline_ms = 0;
  int64_t started_ms = 0;   // first item claimed; 0 = not yet
  int64_t finished_ms = 0;  // terminal; 0 = not yet
  int64_t prompt_tokens = 0, completion_tokens = 0, cached_tokens = 0;  // sums over finished items
};

struct Item {
  std::string job_id;
  int32_t index = 0;  // position in the submission, from 0
  std::string custom_id;
  std::string request;
  ItemStatus status = ItemStatus::kQueued;
  int32_t attempts = 0;     // claims so far
  int32_t http_status = 0;  // of the finished run; 0 = none
  std::string result;       // response body (JSON text) of the finished run; "" = none
  std::string error;        // why it failed, expired or was cancelled
  std::string lease_owner;  // while running
  int64_t lease_expires_ms = 0;
  int64_t started_ms = 0, finished_ms = 0;
  int64_t prompt_tokens = 0, completion_tokens = 0, cached_tokens = 0;
};

// An item handed to a worker, with what it needs from its job.
struct Claim {
  Item item;  // status running, attempts counted, lease_owner = the claimer
  std::string model, endpoint, kind, tenant;
  int64_t deadline_ms = 0;
};

struct ItemOutcome {
  ItemStatus status = ItemStatus::kSucceeded;  // succeeded, failed or cancelled
  int32_t http_status = 0;
  std::string result;  // JSON text; may be empty for a failure
  std::string error;
  int64_t prompt_tokens = 0, completion_tokens = 0, cached_tokens = 0;
};

// A webhook delivery: one event of one job for one target URL. Written in
// the same transaction as the change it reports (a transactional outbox),
// so an event is never lost; delivered at least once (a receiver
// deduplicates by event_id).
enum class DeliveryStatus { kPending, kDelivered, kDead };
std::string_view delivery_status_name(DeliveryStatus status);  // "pending", "delivered", "dead"
// Error(kCorruptData) for an unknown name.
DeliveryStatus parse_delivery_status(std::string_view name);

struct Delivery {
  std::string event_id;  // "evt_" + 24 hex digits; the same on every try
  std::string job_id;
  std::string event_type;  // "queued", "running", "succeeded", "failed"
  std::string url;
  std::string tenant;
  std::string body;  // the event, JSON text, fixed when written (see event_body)
  DeliveryStatus status = DeliveryStatus::kPending;
  int32_t attempts = 0;
  int64_t next_attempt_ms = 0;
  std::string last_error;
  int64_t created_ms = 0;
};

// The event body, named after Workers AI's batch events:
// {"type": "tether.model.batch.<event_type>", "source": {"type": "tether.model",
//  "modelName": model}, "payload": {"requestId": job id, "status": job status},
//  "metadata": {"eventId", "eventTimestamp" (RFC 3339, UTC, ms), "eventSchemaVersion": 1}}
std::string event_body(std::string_view event_type, const Job& job, std::string_view event_id, int64_t now_ms);

struct StoredFile {
  std::string id;  // "file-" + 24 hex digits, made by the store
  std::string purpose;
  std::string filename;
  std::string tenant;
  std::string content;
  int64_t created_ms = 0;
};

struct JobFilter {
  std::optional<JobStatus> status;
  std::optional<std::string> tenant;  // nullopt = every tenant ("" is the default tenant)
  std::string kind;                   // "" = every kind
  int32_t limit = 100;
  std::string after;   // list jobs created before this job id (pagination), "" = from the newest;
                       // an unknown id lists nothing. Error(kInvalidArgument) for limit < 1.
};

struct StoreOptions {
  // Injected for tests; unix milliseconds.
  std::function<int64_t()> clock;  // unset = the system clock
  // false: a SQLite file that does not exist is Error(kNotFound), not a new
  // empty store (a tool reading the store a server writes).
  bool create = true;
};

class JobStore {
 public:
  virtual ~JobStore() = default;

  struct Submitted {
    Job job;
    bool existing = false;  // an earlier job with the same idempotency key
  };
  // Stores the job and its items (all queued) and a "queued" delivery per
  // webhook URL, in one transaction. Error(kInvalidArgument) for a job
  // without items.
  virtual Submitted submit(const NewJob& job) = 0;

  virtual std::optional<Job> get_job(const std::string& job_id) = 0;
  virtual std::vector<Job> list_jobs(const JobFilter& filter) = 0;
  // In index order.
  virtual std::vector<Item> get_items(const std::string& job_id) = 0;

  // Takes up to `limit` queued items, oldest job first then by index, of
  // jobs whose model is in `models` (empty = any), for `owner` until
  // now + lease_ms: each becomes running with attempts + 1. A job whose
  // first item this is becomes running (and gets "running" deliveries).
  // Items of jobs past their deadline are not handed out: they expire
  // (see expire_overdue). Two concurrent claimers never get the same item.
  virtual std::vector<Claim> claim(const std::string& owner, const std::vector<std::string>& models,
                                   int32_t limit, int64_t lease_ms) = 0;

  struct Renewal {
    std::vector<std::string> lost;       // "job_id/index": no longer leased to the owner
    std::vector<std::string> cancelled;  // "job_id/index": its job was cancelled; stop it
  };
  // Extends the owner's leases on these items to now + lease_ms.
  virtual Renewal renew(const std::string& owner, const std::vector<std::pair<std::string, int32_t>>& items,
                        int64_t lease_ms) = 0;

  // Records the outcome of a running item, if it is still leased to
  // `owner` (false, and nothing written, otherwise: another worker owns it
  // now). When it was the job's last unfinished item the job becomes
  // terminal in the same transaction: cancelled if cancel was requested,
  // else expired when an item expired (its deadline passed), else
  // succeeded when an item succeeded, else failed; and its terminal
  // delivery ("succeeded", or "failed" for the others) is written. The
  // same rule ends a job in expire_overdue, cancel, release and
  // requeue_expired_leases. Error(kInvalidArgument) for an outcome status
  // other than succeeded, failed or cancelled.
  virtual bool complete(const std::string& owner, const std::string& job_id, int32_t index,
                        const ItemOutcome& outcome) = 0;

  // Hands a running item back to the queue without a result: status queued,
  // attempts - 1 (the engine was full, the server is stopping: the run did
  // not happen), or attempts kept with `keep_attempt` (a server error: the
  // run failed and counts towards the item's last try). False when it is
  // not leased to `owner`.
  // An item of a cancel-requested job ends as cancelled instead (here and
  // in requeue_expired_leases), so that its job can finish.
  virtual bool release(const std::string& owner, const std::string& job_id, int32_t index,
                       bool keep_attempt = false) = 0;

  // Running items whose lease expired go back to the queue (the lost run
  // still counts as an attempt); returns how many.
  virtual int32_t requeue_expired_leases() = 0;
  // Queued items of jobs past their deadline become expired (error says
  // so); jobs left with nothing unfinished become terminal. Returns items expired.
  virtual int32_t expire_overdue() = 0;

  // Marks the job cancel-requested; its queued items become cancelled at
  // once, running ones when their worker completes them (renew tells it).
  // Returns the job after the change; nullopt for an unknown id. A terminal
  // job is returned unchanged.
  virtual std::optional<Job> cancel(const std::string& job_id) = 0;

  // Deliveries pending whose next_attempt_ms has come, oldest first, at
  // most `limit`; each is held for `owner` until now + lease_ms so that
  // another deliverer does not send it meanwhile.
  virtual std::vector<Delivery> claim_deliveries(const std::string& owner, int32_t limit, int64_t lease_ms) = 0;
  // Error(kNotFound) for an unknown (event_id, url) in these two.
  virtual void mark_delivered(const std::string& event_id, const std::string& url) = 0;
  // A failed try: attempts + 1, then pending again at next_attempt_ms, or
  // dead when `dead` (the last try). A delivery that is no longer pending
  // (delivered by another try) is left as it is.
  virtual void mark_attempt_failed(const std::string& event_id, const std::string& url, const std::string& error,
                                   int64_t next_attempt_ms, bool dead) = 0;
  virtual std::vector<Delivery> get_deliveries(const std::string& job_id) = 0;

  // Files (OpenAI Files API).
  virtual StoredFile put_file(const StoredFile& file) = 0;  // id and created_ms made here
  virtual std::optional<StoredFile> get_file(const std::string& file_id) = 0;

  virtual int64_t now_ms() = 0;
};

// Opens a store from a URL: "sqlite:PATH" or a plain path (SQLite, created
// with its directory when missing), "postgres://..." or "postgresql://..."
// (libpq connection URI). Creates the schema when missing. Error(kIo) when
// the database cannot be opened, Error(kCorruptData) when it holds
// something else or another schema version, Error(kInvalidArgument) for
// another scheme.
std::unique_ptr<JobStore> open_job_store(const std::string& url, StoreOptions options = {});

}  // namespace tether::store
