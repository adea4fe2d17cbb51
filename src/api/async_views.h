#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "store/job_store.h"

namespace tether::api {

// The JSON bodies of the async routes, built from stored jobs, items and
// files (plain functions: no coroutine builds JSON with literals).

// OpenAI's batch object. Status: "in_progress" while queued or running,
// "cancelling" once cancel was asked and items still run, "completed" for
// succeeded and failed jobs (a batch completes even when requests failed),
// "cancelled", "expired". Times in unix seconds, null when not reached.
boost::json::object batch_json(const store::Job& job);
std::string_view batch_status(const store::Job& job);

// A single async request ("x-tether-async: true"): {"id", "object": "job",
// "status", "model", "endpoint", "created_at", "started_at", "finished_at",
// "result" (the response body once succeeded), "error" (once it did not)}.
// `item` is the job's item, null when not read.
boost::json::object job_json(const store::Job& job, const store::Item* item);

// OpenAI's file object.
boost::json::object file_json(const store::StoredFile& file);
// The object of a derived output/error file of a finished batch.
boost::json::object derived_file_json(const store::Job& job, bool errors, size_t bytes);

// {"object": "list", "data", "first_id", "last_id", "has_more"}.
boost::json::object list_json(boost::json::array data, bool has_more);

// Workers AI: {"result": ..., "success": true, "errors": [], "messages": []}.
boost::json::object workers_ai_envelope(boost::json::value result);
// {"status": "queued"|"running", "request_id", "model"} in the envelope.
boost::json::object workers_ai_status_json(const store::Job& job);
// A finished job: {"responses": [{"id", "result", "success",
// "external_reference"}], "usage": {...}} in the envelope.
boost::json::object workers_ai_responses_json(const store::Job& job, const std::vector<store::Item>& items);

// Output and error files of a batch, derived from its items on read:
// ids "<job id>-output" and "<job id>-error".
std::string batch_file_id(const std::string& job_id, bool errors);
struct DerivedFileId {
  std::string job_id;
  bool errors = false;
};
std::optional<DerivedFileId> parse_batch_file_id(std::string_view file_id);
// Whether a finished batch has such a file (an item of that kind).
bool has_batch_file(const store::Job& job, bool errors);
// JSONL, one line per item in index order: succeeded items in the output
// file, the others (failed, expired, cancelled) in the error file.
std::string batch_file_content(const std::vector<store::Item>& items, bool errors);

}  // namespace tether::api
