#pragma once

#include <cstdint>
#include <string_view>

#include "api/local_invoker.h"
#include "store/job_store.h"

namespace tether::jobs {

// Tokens an answer reports (read by router::usage_of: OpenAI's `usage` at
// the top of the body, or inside Workers AI's `result`). Zeros for what is
// missing or a body that is not JSON.
struct TokenUsage {
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  int64_t cached_tokens = 0;
};
TokenUsage usage_of(std::string_view body);

// What becomes of a job item after one run, decided from the response alone
// (the dispatcher applies it):
//   2xx         -> complete, succeeded; result = the body, usage from it.
//   429, 503    -> release: the engine is full or no model is there yet;
//                  never a failure, the model backs off.
//   other 5xx   -> release to retry, until `attempt` reaches max_attempts:
//                  then complete, failed (result = the body). A response that
//                  is no HTTP answer at all (status 0, 1xx, 3xx, or a
//                  cancelled invocation) counts as one too.
//   other 4xx   -> complete, failed; result = the error body.
struct ItemDecision {
  enum class Action { kComplete, kRelease };
  Action action = Action::kComplete;
  store::ItemOutcome outcome;  // when kComplete
  bool back_off = false;       // when kRelease: rest the model before claiming again
  bool server_error = false;   // counts toward max_attempts
};

// `attempt`: which run of the item this was, from 1.
ItemDecision decide_item_outcome(const api::InvokeResult& result, int32_t attempt, int32_t max_attempts);

}  // namespace tether::jobs
