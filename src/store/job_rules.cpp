#include "store/job_rules.h"

#include <boost/json.hpp>

#include "common/error.h"

namespace tether::store {

void check_new_job(const NewJob& job) {
  if (job.items.empty()) throw_error(ErrorCode::kInvalidArgument, "store: a job needs at least one item");
  if (job.deadline_ms < 0) throw_error(ErrorCode::kInvalidArgument, "store: negative deadline {}", job.deadline_ms);
}

void check_claim(int32_t limit, int64_t lease_ms) {
  if (limit < 0) throw_error(ErrorCode::kInvalidArgument, "store: claim limit {} is negative", limit);
  check_lease(lease_ms);
}

void check_lease(int64_t lease_ms) {
  if (lease_ms <= 0) throw_error(ErrorCode::kInvalidArgument, "store: lease of {} ms", lease_ms);
}

void check_owner(const std::string& owner) {
  if (owner.empty()) throw_error(ErrorCode::kInvalidArgument, "store: a claim needs an owner");
}

void check_filter(const JobFilter& filter) {
  if (filter.limit < 1) throw_error(ErrorCode::kInvalidArgument, "store: list limit {} is below 1", filter.limit);
}

void check_outcome(const ItemOutcome& outcome) {
  if (outcome.status != ItemStatus::kSucceeded && outcome.status != ItemStatus::kFailed &&
      outcome.status != ItemStatus::kCancelled) {
    throw_error(ErrorCode::kInvalidArgument, "store: an item cannot complete as {}", item_status_name(outcome.status));
  }
}

JobStatus terminal_status(bool cancel_requested, const JobCounts& counts) {
  if (cancel_requested) return JobStatus::kCancelled;
  if (counts.expired > 0) return JobStatus::kExpired;
  if (counts.succeeded > 0) return JobStatus::kSucceeded;
  return JobStatus::kFailed;
}

std::string_view terminal_event(JobStatus status) { return status == JobStatus::kSucceeded ? "succeeded" : "failed"; }

std::string encode_string_list(const std::vector<std::string>& values) {
  boost::json::array array;
  for (const auto& value : values) array.emplace_back(value);
  return boost::json::serialize(array);
}

std::vector<std::string> decode_string_list(std::string_view text, std::string_view what) {
  boost::system::error_code ec;
  const boost::json::value value = boost::json::parse(text, ec);
  if (ec || !value.is_array()) throw_error(ErrorCode::kCorruptData, "store: {} is not a JSON array", what);
  std::vector<std::string> values;
  for (const auto& entry : value.as_array()) {
    if (!entry.is_string()) throw_error(ErrorCode::kCorruptData, "store: {} holds a non-string", what);
    values.emplace_back(entry.as_string());
  }
  return values;
}

}  // namespace tether::store
