#include "store/job_store.h"

#include <ctime>
#include <filesystem>
#include <system_error>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "common/error.h"
#include "store/pg_job_store.h"
#include "store/sqlite_job_store.h"

namespace tether::store {

namespace {

constexpr std::string_view kStatusNames[] = {"queued", "running", "succeeded", "failed", "cancelled", "expired"};

int status_index(std::string_view name, std::string_view what) {
  for (size_t idx = 0; idx < std::size(kStatusNames); ++idx) {
    if (kStatusNames[idx] == name) return static_cast<int>(idx);
  }
  throw_error(ErrorCode::kCorruptData, "store: unknown {} status '{}'", what, name);
}

// RFC 3339 in UTC with milliseconds: 2026-12-04T23:10:00.123Z.
std::string rfc3339_utc(int64_t unix_ms) {
  int64_t seconds = unix_ms / 1000;
  int64_t millis = unix_ms % 1000;
  if (millis < 0) {  // floor, for times before 1970
    millis += 1000;
    seconds -= 1;
  }
  std::time_t time = static_cast<std::time_t>(seconds);
  std::tm utc{};
  if (gmtime_r(&time, &utc) == nullptr) {
    throw_error(ErrorCode::kInvalidArgument, "store: time {} ms is out of range", unix_ms);
  }
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday,
                     utc.tm_hour, utc.tm_min, utc.tm_sec, millis);
}

bool starts_with_scheme(const std::string& url, std::string& scheme) {
  auto colon = url.find("://");
  if (colon == std::string::npos || colon == 0) return false;
  for (size_t idx = 0; idx < colon; ++idx) {
    char c = url[idx];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (idx > 0 && ((c >= '0' && c <= '9') || c == '+' ||
                                                                              c == '-' || c == '.'));
    if (!ok) return false;
  }
  scheme = url.substr(0, colon);
  return true;
}

}  // namespace

std::string item_ref(std::string_view job_id, int32_t index) { return fmt::format("{}/{}", job_id, index); }

std::string_view job_status_name(JobStatus status) { return kStatusNames[static_cast<int>(status)]; }
std::string_view item_status_name(ItemStatus status) { return kStatusNames[static_cast<int>(status)]; }

bool is_terminal(JobStatus status) { return status != JobStatus::kQueued && status != JobStatus::kRunning; }
bool is_terminal(ItemStatus status) { return status != ItemStatus::kQueued && status != ItemStatus::kRunning; }

JobStatus parse_job_status(std::string_view name) { return static_cast<JobStatus>(status_index(name, "job")); }
ItemStatus parse_item_status(std::string_view name) { return static_cast<ItemStatus>(status_index(name, "item")); }

std::string_view delivery_status_name(DeliveryStatus status) {
  switch (status) {
    case DeliveryStatus::kPending: return "pending";
    case DeliveryStatus::kDelivered: return "delivered";
    case DeliveryStatus::kDead: return "dead";
  }
  return "unknown";
}

DeliveryStatus parse_delivery_status(std::string_view name) {
  if (name == "pending") return DeliveryStatus::kPending;
  if (name == "delivered") return DeliveryStatus::kDelivered;
  if (name == "dead") return DeliveryStatus::kDead;
  throw_error(ErrorCode::kCorruptData, "store: unknown delivery status '{}'", name);
}

std::string event_body(std::string_view event_type, const Job& job, std::string_view event_id, int64_t now_ms) {
  boost::json::object source;
  source["type"] = "tether.model";
  source["modelName"] = job.model;
  boost::json::object payload;
  payload["requestId"] = job.id;
  payload["status"] = job_status_name(job.status);
  boost::json::object metadata;
  metadata["eventId"] = event_id;
  metadata["eventTimestamp"] = rfc3339_utc(now_ms);
  metadata["eventSchemaVersion"] = 1;
  boost::json::object body;
  body["type"] = fmt::format("tether.model.batch.{}", event_type);
  body["source"] = std::move(source);
  body["payload"] = std::move(payload);
  body["metadata"] = std::move(metadata);
  return boost::json::serialize(body);
}

std::unique_ptr<JobStore> open_job_store(const std::string& url, StoreOptions options) {
  std::string path;
  std::string scheme;
  if (url.starts_with("sqlite:")) {
    path = url.substr(7);
  } else if (starts_with_scheme(url, scheme)) {
    if (scheme == "postgres" || scheme == "postgresql") {
      return std::make_unique<PgJobStore>(url, std::move(options));
    }
    throw_error(ErrorCode::kInvalidArgument,
                "store: unsupported URL scheme '{}' in '{}' (use sqlite:PATH, a file path or postgres://...)", scheme,
                url);
  } else {
    path = url;
  }
  if (path.empty()) throw_error(ErrorCode::kInvalidArgument, "store: '{}' names no SQLite file", url);
  if (path != ":memory:" && !options.create) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) throw_error(ErrorCode::kNotFound, "store: no SQLite store at '{}'", path);
  } else if (path != ":memory:") {
    auto parent = std::filesystem::path(path).parent_path();
    std::error_code ec;
    if (!parent.empty()) std::filesystem::create_directories(parent, ec);
    if (ec) throw_error(ErrorCode::kIo, "store: cannot create directory {}: {}", parent.string(), ec.message());
  }
  return std::make_unique<SqliteJobStore>(path, std::move(options));
}

}  // namespace tether::store
