#include "api/async_views.h"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <fmt/format.h>

namespace tether::api {

namespace {

constexpr std::string_view kOutputSuffix = "-output";
constexpr std::string_view kErrorSuffix = "-error";

boost::json::value unix_seconds(int64_t ms) {
  if (ms <= 0) return nullptr;
  return ms / 1000;
}

// A stored JSON text; text that is not JSON (an upstream's odd body) stays a string.
boost::json::value parse_stored(const std::string& text) {
  if (text.empty()) return nullptr;
  boost::system::error_code ec;
  boost::json::value value = boost::json::parse(text, ec);
  if (ec) return boost::json::value(text);
  return value;
}

std::string item_id(const store::Item& item) { return store::item_ref(item.job_id, item.index); }

// The "error" object of an item that did not succeed: from its error body
// ({"error": {...}} as tether and OpenAI answer) when there is one.
boost::json::object item_error(const store::Item& item) {
  boost::json::object error;
  const boost::json::value body = parse_stored(item.result);
  const boost::json::object* inner = nullptr;
  if (body.is_object()) {
    if (const boost::json::value* e = body.as_object().if_contains("error"); e != nullptr && e->is_object()) {
      inner = &e->as_object();
    }
  }
  std::string code;
  switch (item.status) {
    case store::ItemStatus::kExpired: code = "batch_expired"; break;
    case store::ItemStatus::kCancelled: code = "batch_cancelled"; break;
    default:
      code = "request_failed";
      if (inner != nullptr) {
        if (const boost::json::value* c = inner->if_contains("code"); c != nullptr && c->is_string()) {
          code = std::string(c->as_string());
        }
      }
  }
  std::string message = item.error;
  if (message.empty() && inner != nullptr) {
    if (const boost::json::value* m = inner->if_contains("message"); m != nullptr && m->is_string()) {
      message = std::string(m->as_string());
    }
  }
  if (message.empty()) message = fmt::format("the request ended {}", store::item_status_name(item.status));
  error["code"] = code;
  error["message"] = message;
  return error;
}

boost::json::object response_json(const store::Item& item) {
  boost::json::object response;
  response["status_code"] = item.http_status;
  response["request_id"] = item_id(item);
  response["body"] = parse_stored(item.result);
  return response;
}

}  // namespace

std::string_view batch_status(const store::Job& job) {
  switch (job.status) {
    case store::JobStatus::kQueued:
    case store::JobStatus::kRunning: return job.cancel_requested ? "cancelling" : "in_progress";
    case store::JobStatus::kSucceeded:
    case store::JobStatus::kFailed: return "completed";
    case store::JobStatus::kCancelled: return "cancelled";
    case store::JobStatus::kExpired: return "expired";
  }
  return "in_progress";
}

bool has_batch_file(const store::Job& job, bool errors) {
  if (!store::is_terminal(job.status)) return false;
  if (!errors) return job.counts.succeeded > 0;
  return job.counts.failed + job.counts.expired + job.counts.cancelled > 0;
}

boost::json::object batch_json(const store::Job& job) {
  boost::json::object batch;
  batch["id"] = job.id;
  batch["object"] = "batch";
  batch["endpoint"] = job.endpoint;
  batch["model"] = job.model;
  batch["errors"] = nullptr;
  batch["input_file_id"] = job.input_file_id;
  const int64_t window_ms = job.deadline_ms > 0 ? job.deadline_ms - job.created_ms : 0;
  batch["completion_window"] = window_ms > 0 && window_ms % 3'600'000 == 0
                                   ? fmt::format("{}h", window_ms / 3'600'000)
                                   : fmt::format("{}s", window_ms / 1000);
  batch["status"] = batch_status(job);
  batch["output_file_id"] = has_batch_file(job, false) ? boost::json::value(batch_file_id(job.id, false)) : nullptr;
  batch["error_file_id"] = has_batch_file(job, true) ? boost::json::value(batch_file_id(job.id, true)) : nullptr;
  batch["created_at"] = unix_seconds(job.created_ms);
  batch["in_progress_at"] = unix_seconds(job.started_ms);
  batch["expires_at"] = unix_seconds(job.deadline_ms);
  const bool completed = job.status == store::JobStatus::kSucceeded || job.status == store::JobStatus::kFailed;
  batch["finalizing_at"] = completed ? unix_seconds(job.finished_ms) : nullptr;
  batch["completed_at"] = completed ? unix_seconds(job.finished_ms) : nullptr;
  batch["failed_at"] = nullptr;  // a batch fails only at validation, which is a 400 here
  batch["expired_at"] = job.status == store::JobStatus::kExpired ? unix_seconds(job.finished_ms) : nullptr;
  batch["cancelling_at"] = nullptr;
  batch["cancelled_at"] = job.status == store::JobStatus::kCancelled ? unix_seconds(job.finished_ms) : nullptr;
  boost::json::object counts;
  counts["total"] = job.counts.total;
  counts["completed"] = job.counts.succeeded;
  counts["failed"] = job.counts.failed + job.counts.expired + job.counts.cancelled;
  batch["request_counts"] = std::move(counts);
  boost::json::object usage;
  usage["input_tokens"] = job.prompt_tokens;
  usage["output_tokens"] = job.completion_tokens;
  usage["total_tokens"] = job.prompt_tokens + job.completion_tokens;
  batch["usage"] = std::move(usage);
  batch["metadata"] = job.metadata.empty() ? boost::json::value(nullptr) : parse_stored(job.metadata);
  return batch;
}

boost::json::object job_json(const store::Job& job, const store::Item* item) {
  boost::json::object out;
  out["id"] = job.id;
  out["object"] = "job";
  out["kind"] = job.kind;
  out["status"] = store::job_status_name(job.status);
  out["cancel_requested"] = job.cancel_requested;
  out["model"] = job.model;
  out["endpoint"] = job.endpoint;
  out["created_at"] = unix_seconds(job.created_ms);
  out["started_at"] = unix_seconds(job.started_ms);
  out["finished_at"] = unix_seconds(job.finished_ms);
  out["expires_at"] = unix_seconds(job.deadline_ms);
  out["result"] = nullptr;
  out["error"] = nullptr;
  if (item != nullptr && store::is_terminal(item->status)) {
    if (item->http_status != 0) out["status_code"] = item->http_status;
    if (item->status == store::ItemStatus::kSucceeded) {
      out["result"] = parse_stored(item->result);
    } else {
      out["error"] = item_error(*item);
    }
  }
  return out;
}

boost::json::object file_json(const store::StoredFile& file) {
  boost::json::object out;
  out["id"] = file.id;
  out["object"] = "file";
  out["bytes"] = file.content.size();
  out["created_at"] = unix_seconds(file.created_ms);
  out["expires_at"] = nullptr;
  out["filename"] = file.filename;
  out["purpose"] = file.purpose;
  out["status"] = "processed";
  out["status_details"] = nullptr;
  return out;
}

boost::json::object derived_file_json(const store::Job& job, bool errors, size_t bytes) {
  store::StoredFile file;
  file.id = batch_file_id(job.id, errors);
  file.purpose = "batch_output";
  file.filename = fmt::format("{}_{}.jsonl", job.id, errors ? "error" : "output");
  file.created_ms = job.finished_ms;
  boost::json::object out = file_json(file);
  out["bytes"] = bytes;
  return out;
}

boost::json::object list_json(boost::json::array data, bool has_more) {
  boost::json::object list;
  list["object"] = "list";
  list["first_id"] = data.empty() ? boost::json::value(nullptr) : data.front().at("id");
  list["last_id"] = data.empty() ? boost::json::value(nullptr) : data.back().at("id");
  list["has_more"] = has_more;
  list["data"] = std::move(data);
  return list;
}

boost::json::object workers_ai_envelope(boost::json::value result) {
  boost::json::object envelope;
  envelope["result"] = std::move(result);
  envelope["success"] = true;
  envelope["errors"] = boost::json::array();
  envelope["messages"] = boost::json::array();
  return envelope;
}

boost::json::object workers_ai_status_json(const store::Job& job) {
  boost::json::object result;
  result["status"] = store::job_status_name(job.status);
  result["request_id"] = job.id;
  result["model"] = job.model;
  return workers_ai_envelope(std::move(result));
}

boost::json::object workers_ai_responses_json(const store::Job& job, const std::vector<store::Item>& items) {
  boost::json::array responses;
  for (const store::Item& item : items) {
    boost::json::object response;
    response["id"] = item.index;
    const bool success = item.status == store::ItemStatus::kSucceeded;
    boost::json::value body = parse_stored(item.result);
    if (success) {
      // The item ran at /ai/run and answered in the envelope: keep its result.
      if (body.is_object() && body.as_object().contains("result")) body = body.as_object().at("result");
      response["result"] = std::move(body);
    } else {
      response["result"] = nullptr;
      boost::json::array errors;
      if (body.is_object() && body.as_object().contains("errors") && body.as_object().at("errors").is_array() &&
          !body.as_object().at("errors").as_array().empty()) {
        errors = body.as_object().at("errors").as_array();
      } else {
        boost::json::object error;
        error["code"] = item.http_status;
        error["message"] = item_error(item).at("message");
        errors.push_back(std::move(error));
      }
      response["errors"] = std::move(errors);
    }
    response["success"] = success;
    response["external_reference"] = item.custom_id.empty() ? boost::json::value(nullptr) : parse_stored(item.custom_id);
    responses.push_back(std::move(response));
  }
  boost::json::object usage;
  usage["prompt_tokens"] = job.prompt_tokens;
  usage["completion_tokens"] = job.completion_tokens;
  usage["total_tokens"] = job.prompt_tokens + job.completion_tokens;
  boost::json::object result;
  result["status"] = store::job_status_name(job.status);
  result["request_id"] = job.id;
  result["model"] = job.model;
  result["responses"] = std::move(responses);
  result["usage"] = std::move(usage);
  return workers_ai_envelope(std::move(result));
}

std::string batch_file_id(const std::string& job_id, bool errors) {
  return job_id + std::string(errors ? kErrorSuffix : kOutputSuffix);
}

std::optional<DerivedFileId> parse_batch_file_id(std::string_view file_id) {
  for (const bool errors : {false, true}) {
    const std::string_view suffix = errors ? kErrorSuffix : kOutputSuffix;
    if (file_id.size() > suffix.size() && file_id.substr(file_id.size() - suffix.size()) == suffix) {
      return DerivedFileId{std::string(file_id.substr(0, file_id.size() - suffix.size())), errors};
    }
  }
  return std::nullopt;
}

std::string batch_file_content(const std::vector<store::Item>& items, bool errors) {
  std::string out;
  for (const store::Item& item : items) {
    if (!store::is_terminal(item.status)) continue;
    const bool succeeded = item.status == store::ItemStatus::kSucceeded;
    if (succeeded == errors) continue;
    boost::json::object line;
    line["id"] = item_id(item);
    line["custom_id"] = item.custom_id.empty() ? boost::json::value(nullptr) : parse_stored(item.custom_id);
    if (succeeded) {
      line["response"] = response_json(item);
      line["error"] = nullptr;
    } else {
      line["response"] = item.http_status != 0 ? boost::json::value(response_json(item)) : nullptr;
      line["error"] = item_error(item);
    }
    out += boost::json::serialize(line);
    out += '\n';
  }
  return out;
}

}  // namespace tether::api
