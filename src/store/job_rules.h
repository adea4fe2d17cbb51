#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "store/job_store.h"

namespace tether::store {

// What both backends check and decide alike, so that they cannot drift.

// Error(kInvalidArgument) for a job without items or with a negative deadline.
void check_new_job(const NewJob& job);
// Error(kInvalidArgument) for a negative claim limit or a lease <= 0 ms.
void check_claim(int32_t limit, int64_t lease_ms);
void check_lease(int64_t lease_ms);
void check_owner(const std::string& owner);  // not empty
void check_filter(const JobFilter& filter);   // limit >= 1
// Only succeeded, failed and cancelled end a run.
void check_outcome(const ItemOutcome& outcome);

// The status a job ends in once none of its items is unfinished: cancelled
// when asked; expired when its deadline cut it short; succeeded when any
// item did; failed otherwise.
JobStatus terminal_status(bool cancel_requested, const JobCounts& counts);
// The event a terminal status sends: "succeeded", else "failed".
std::string_view terminal_event(JobStatus status);

// Lists of strings (webhook URLs, model names) as JSON arrays in a column.
std::string encode_string_list(const std::vector<std::string>& values);
// Error(kCorruptData) naming `what` for text that is not an array of strings.
std::vector<std::string> decode_string_list(std::string_view text, std::string_view what);

}  // namespace tether::store
