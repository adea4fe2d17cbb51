// `tether jobs list|show|cancel`: the durable job queue, read and changed
// straight in its store (the same one `tether serve` uses).

#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <fmt/format.h>

#include "cli/commands.h"
#include "common/error.h"
#include "store/job_store.h"

namespace tether::cli {
namespace {

constexpr const char* kDefaultStore = "sqlite:tether-jobs.db";
constexpr int kExitNotFound = 2;  // an unknown id or a store that cannot be opened

struct JobsOptions {
  std::string store_url = kDefaultStore;
  std::string status;
  int32_t limit = 50;
  std::string job_id;
  bool json = false;
};

// A failure the command reports with exit code 2.
struct JobsFailure {
  std::string message;
};

std::unique_ptr<store::JobStore> open_store(const std::string& url) {
  // Not created when missing: a typo in --store would then list nothing
  // instead of saying so.
  store::StoreOptions options;
  options.create = false;
  try {
    return store::open_job_store(url, std::move(options));
  } catch (const Error& error) {
    if (error.code() == ErrorCode::kNotFound) {
      throw JobsFailure{fmt::format("no job store at '{}' (pass the one `tether serve` uses with --store)", url)};
    }
    throw JobsFailure{fmt::format("cannot open the job store '{}': {}", url, error.what())};
  }
}

std::string time_text(int64_t ms) {
  if (ms <= 0) return "-";
  const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

std::string status_text(const store::Job& job) {
  std::string text(store::job_status_name(job.status));
  if (job.cancel_requested && !store::is_terminal(job.status)) text += " (cancelling)";
  return text;
}

// Columns padded to their widest cell, two spaces apart.
void print_table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    if (widths.size() < row.size()) widths.resize(row.size(), 0);
    for (size_t col = 0; col < row.size(); ++col) widths[col] = std::max(widths[col], row[col].size());
  }
  for (const auto& row : rows) {
    std::string line;
    for (size_t col = 0; col < row.size(); ++col) {
      if (col + 1 == row.size()) {
        line += row[col];
      } else {
        line += fmt::format("{:<{}}  ", row[col], widths[col]);
      }
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    fmt::print("{}\n", line);
  }
}

boost::json::object job_json(const store::Job& job) {
  boost::json::object out;
  out["id"] = job.id;
  out["kind"] = job.kind;
  out["status"] = store::job_status_name(job.status);
  out["cancel_requested"] = job.cancel_requested;
  out["model"] = job.model;
  out["endpoint"] = job.endpoint;
  out["tenant"] = job.tenant;
  out["idempotency_key"] = job.idempotency_key;
  out["input_file_id"] = job.input_file_id;
  boost::json::array webhooks;
  for (const std::string& url : job.webhook_urls) webhooks.push_back(boost::json::value(url));
  out["webhook_urls"] = std::move(webhooks);
  boost::json::object counts;
  counts["total"] = job.counts.total;
  counts["queued"] = job.counts.queued;
  counts["running"] = job.counts.running;
  counts["succeeded"] = job.counts.succeeded;
  counts["failed"] = job.counts.failed;
  counts["cancelled"] = job.counts.cancelled;
  counts["expired"] = job.counts.expired;
  out["counts"] = std::move(counts);
  out["created_ms"] = job.created_ms;
  out["started_ms"] = job.started_ms;
  out["finished_ms"] = job.finished_ms;
  out["deadline_ms"] = job.deadline_ms;
  out["prompt_tokens"] = job.prompt_tokens;
  out["completion_tokens"] = job.completion_tokens;
  return out;
}

boost::json::object item_json(const store::Item& item) {
  boost::json::object out;
  out["index"] = item.index;
  out["custom_id"] = item.custom_id;
  out["status"] = store::item_status_name(item.status);
  out["attempts"] = item.attempts;
  out["http_status"] = item.http_status;
  out["error"] = item.error;
  out["started_ms"] = item.started_ms;
  out["finished_ms"] = item.finished_ms;
  return out;
}

boost::json::object delivery_json(const store::Delivery& delivery) {
  boost::json::object out;
  out["event_id"] = delivery.event_id;
  out["event_type"] = delivery.event_type;
  out["url"] = delivery.url;
  out["status"] = store::delivery_status_name(delivery.status);
  out["attempts"] = delivery.attempts;
  out["next_attempt_ms"] = delivery.next_attempt_ms;
  out["last_error"] = delivery.last_error;
  return out;
}

void run_list(const JobsOptions& options) {
  std::unique_ptr<store::JobStore> jobs = open_store(options.store_url);
  store::JobFilter filter;
  if (!options.status.empty()) filter.status = store::parse_job_status(options.status);
  filter.limit = options.limit;
  const std::vector<store::Job> listed = jobs->list_jobs(filter);
  if (options.json) {
    boost::json::array out;
    for (const store::Job& job : listed) out.push_back(job_json(job));
    fmt::print("{}\n", boost::json::serialize(out));
    return;
  }
  if (listed.empty()) {
    fmt::print("no jobs\n");
    return;
  }
  std::vector<std::vector<std::string>> rows = {
      {"ID", "KIND", "STATUS", "MODEL", "ITEMS", "DONE", "FAILED", "CREATED"}};
  for (const store::Job& job : listed) {
    rows.push_back({job.id, job.kind, status_text(job), job.model, std::to_string(job.counts.total),
                    std::to_string(job.counts.succeeded),
                    std::to_string(job.counts.failed + job.counts.expired + job.counts.cancelled),
                    time_text(job.created_ms)});
  }
  print_table(rows);
}

store::Job job_or_fail(store::JobStore& jobs, const std::string& id) {
  std::optional<store::Job> job = jobs.get_job(id);
  if (!job) throw JobsFailure{fmt::format("no job '{}'", id)};
  return *job;
}

void run_show(const JobsOptions& options) {
  std::unique_ptr<store::JobStore> jobs = open_store(options.store_url);
  const store::Job job = job_or_fail(*jobs, options.job_id);
  const std::vector<store::Item> items = jobs->get_items(job.id);
  const std::vector<store::Delivery> deliveries = jobs->get_deliveries(job.id);
  if (options.json) {
    boost::json::object out;
    out["job"] = job_json(job);
    boost::json::array item_list;
    for (const store::Item& item : items) item_list.push_back(item_json(item));
    out["items"] = std::move(item_list);
    boost::json::array delivery_list;
    for (const store::Delivery& delivery : deliveries) delivery_list.push_back(delivery_json(delivery));
    out["deliveries"] = std::move(delivery_list);
    fmt::print("{}\n", boost::json::serialize(out));
    return;
  }
  const store::JobCounts& c = job.counts;
  std::vector<std::vector<std::string>> fields = {
      {"job:", job.id},
      {"kind:", job.kind},
      {"status:", status_text(job)},
      {"model:", job.model},
      {"endpoint:", job.endpoint},
      {"tenant:", job.tenant.empty() ? "(default)" : job.tenant},
      {"created:", time_text(job.created_ms)},
      {"started:", time_text(job.started_ms)},
      {"finished:", time_text(job.finished_ms)},
      {"deadline:", time_text(job.deadline_ms)},
      {"items:", fmt::format("{} total: {} queued, {} running, {} succeeded, {} failed, {} cancelled, {} expired",
                             c.total, c.queued, c.running, c.succeeded, c.failed, c.cancelled, c.expired)},
      {"tokens:", fmt::format("{} prompt, {} completion", job.prompt_tokens, job.completion_tokens)},
  };
  if (!job.input_file_id.empty()) fields.push_back({"input file:", job.input_file_id});
  if (!job.idempotency_key.empty()) fields.push_back({"idempotency key:", job.idempotency_key});
  for (const std::string& url : job.webhook_urls) fields.push_back({"webhook:", url});
  print_table(fields);

  fmt::print("\n");
  std::vector<std::vector<std::string>> rows = {{"INDEX", "STATUS", "ATTEMPTS", "HTTP", "CUSTOM_ID", "ERROR"}};
  for (const store::Item& item : items) {
    rows.push_back({std::to_string(item.index), std::string(store::item_status_name(item.status)),
                    std::to_string(item.attempts), item.http_status == 0 ? "-" : std::to_string(item.http_status),
                    item.custom_id.empty() ? "-" : item.custom_id, item.error.empty() ? "-" : item.error});
  }
  print_table(rows);

  if (deliveries.empty()) return;
  fmt::print("\n");
  std::vector<std::vector<std::string>> delivery_rows = {{"EVENT", "TYPE", "STATUS", "ATTEMPTS", "URL", "LAST_ERROR"}};
  for (const store::Delivery& delivery : deliveries) {
    delivery_rows.push_back({delivery.event_id, delivery.event_type,
                             std::string(store::delivery_status_name(delivery.status)),
                             std::to_string(delivery.attempts), delivery.url,
                             delivery.last_error.empty() ? "-" : delivery.last_error});
  }
  print_table(delivery_rows);
}

void run_cancel(const JobsOptions& options) {
  std::unique_ptr<store::JobStore> jobs = open_store(options.store_url);
  const store::Job before = job_or_fail(*jobs, options.job_id);
  std::optional<store::Job> after = jobs->cancel(before.id);
  if (!after) throw JobsFailure{fmt::format("no job '{}'", options.job_id)};
  if (options.json) {
    fmt::print("{}\n", boost::json::serialize(job_json(*after)));
    return;
  }
  if (store::is_terminal(before.status)) {
    fmt::print("{} had already ended: {}\n", after->id, store::job_status_name(after->status));
  } else if (store::is_terminal(after->status)) {
    fmt::print("{} cancelled: {}\n", after->id, store::job_status_name(after->status));
  } else {
    fmt::print("{} cancelling: {} running item(s) stop when their workers notice\n", after->id,
               after->counts.running);
  }
}

void add_store_option(CLI::App* command, JobsOptions& options) {
  command->add_option("--store", options.store_url,
                      "The job store: sqlite:PATH (default sqlite:tether-jobs.db) or postgres://...");
}

void run_reporting(CommandResult& result, void (*run)(const JobsOptions&), const JobsOptions& options) {
  try {
    run(options);
    result.exit_code = 0;
  } catch (const JobsFailure& failure) {
    fmt::print(stderr, "tether: error: {}\n", failure.message);
    result.exit_code = kExitNotFound;
  } catch (const Error& error) {
    if (error.code() != ErrorCode::kIo) throw;
    // The store went away mid-command (a PostgreSQL server that stopped).
    fmt::print(stderr, "tether: error: the job store failed: {}\n", error.what());
    result.exit_code = kExitNotFound;
  }
}

}  // namespace

void add_jobs_command(CLI::App& app, CommandResult& result) {
  auto options = std::make_shared<JobsOptions>();
  CLI::App* jobs = app.add_subcommand("jobs", "List, show and cancel async jobs in the job store");
  jobs->require_subcommand(1);

  CLI::App* list = jobs->add_subcommand("list", "The newest jobs, one a line");
  add_store_option(list, *options);
  list->add_option("--status", options->status, "Only jobs with this status")
      ->check(CLI::IsMember({"queued", "running", "succeeded", "failed", "cancelled", "expired"}));
  list->add_option("--limit", options->limit, "At most this many jobs (default 50)")->check(CLI::Range(1, 10000));
  list->add_flag("--json", options->json, "Print a JSON array of jobs");
  list->callback([options, &result] { run_reporting(result, run_list, *options); });

  CLI::App* show = jobs->add_subcommand("show", "One job: its counts, items and webhook deliveries");
  add_store_option(show, *options);
  show->add_option("id", options->job_id, "The job id (job_...)")->required();
  show->add_flag("--json", options->json, "Print {\"job\", \"items\", \"deliveries\"} as JSON");
  show->callback([options, &result] { run_reporting(result, run_show, *options); });

  CLI::App* cancel = jobs->add_subcommand("cancel", "Cancel a job: queued items at once, running ones soon after");
  add_store_option(cancel, *options);
  cancel->add_option("id", options->job_id, "The job id (job_...)")->required();
  cancel->add_flag("--json", options->json, "Print the job after the change as JSON");
  cancel->callback([options, &result] { run_reporting(result, run_cancel, *options); });
}

}  // namespace tether::cli
