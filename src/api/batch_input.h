#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "store/job_store.h"

namespace tether::api {

// OpenAI's cap on the requests of one batch.
inline constexpr size_t kMaxBatchRequests = 50'000;

// A completion window, "24h", "90m" or "600s" (a whole number from 1 and a
// unit), in milliseconds, at most 31 days. HttpError 400 (param
// completion_window) otherwise.
int64_t parse_completion_window(std::string_view text);

// The requests of an OpenAI batch input file, one JSON object a line:
//   {"custom_id": "...", "method": "POST", "url": <endpoint>, "body": {"model": ..., ...}}
// Blank lines are skipped. custom_ids are unique and every body names the
// same model (OpenAI's rules).
struct BatchInput {
  std::string model;
  std::vector<store::NewItem> items;  // custom_id as JSON text, request = body as JSON text
};

// HttpError 400 naming the line (from 1) and the problem: not JSON, not an
// object, a missing or wrong field, a duplicate custom_id, a second model,
// no requests, more than `max_requests`.
BatchInput parse_batch_input(std::string_view jsonl, std::string_view endpoint,
                             size_t max_requests = kMaxBatchRequests);

}  // namespace tether::api
