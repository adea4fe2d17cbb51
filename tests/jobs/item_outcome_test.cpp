#include "jobs/item_outcome.h"

#include <gtest/gtest.h>

#include "jobs/item_invocation.h"

namespace tether::jobs {
namespace {

using Action = ItemDecision::Action;

api::InvokeResult response(int status, std::string body) { return api::InvokeResult{status, {}, std::move(body)}; }

TEST(ItemOutcomeTest, UsageFromEitherDialect) {
  const TokenUsage openai = usage_of(
      R"({"usage": {"prompt_tokens": 12, "completion_tokens": 4, "prompt_tokens_details": {"cached_tokens": 8}}})");
  EXPECT_EQ(openai.prompt_tokens, 12);
  EXPECT_EQ(openai.completion_tokens, 4);
  EXPECT_EQ(openai.cached_tokens, 8);
  const TokenUsage workers = usage_of(R"({"result": {"usage": {"prompt_tokens": 3, "completion_tokens": 2}}})");
  EXPECT_EQ(workers.prompt_tokens, 3);
  EXPECT_EQ(workers.completion_tokens, 2);
  EXPECT_EQ(workers.cached_tokens, 0);
  EXPECT_EQ(usage_of("not json").prompt_tokens, 0);
  EXPECT_EQ(usage_of(R"({"usage": {"prompt_tokens": "x"}})").prompt_tokens, 0);
}

TEST(ItemOutcomeTest, StatusesDecideTheOutcome) {
  const ItemDecision ok = decide_item_outcome(response(200, R"({"usage": {"completion_tokens": 5}})"), 1, 3);
  EXPECT_EQ(ok.action, Action::kComplete);
  EXPECT_EQ(ok.outcome.status, store::ItemStatus::kSucceeded);
  EXPECT_EQ(ok.outcome.completion_tokens, 5);
  EXPECT_EQ(ok.outcome.http_status, 200);

  for (int status : {429, 503}) {
    const ItemDecision full = decide_item_outcome(response(status, "{}"), 3, 3);
    EXPECT_EQ(full.action, Action::kRelease) << status;  // never a failure, even at the last attempt
    EXPECT_TRUE(full.back_off);
    EXPECT_FALSE(full.server_error);
  }
  const ItemDecision client = decide_item_outcome(response(422, R"({"errors": [{"message": "no"}]})"), 1, 3);
  EXPECT_EQ(client.action, Action::kComplete);
  EXPECT_EQ(client.outcome.status, store::ItemStatus::kFailed);
  EXPECT_EQ(client.outcome.error, "HTTP 422: no");
  EXPECT_EQ(client.outcome.result, R"({"errors": [{"message": "no"}]})");

  const ItemDecision retry = decide_item_outcome(response(502, "upstream down"), 2, 3);
  EXPECT_EQ(retry.action, Action::kRelease);
  EXPECT_TRUE(retry.server_error);
  const ItemDecision last = decide_item_outcome(response(502, "upstream down"), 3, 3);
  EXPECT_EQ(last.action, Action::kComplete);
  EXPECT_EQ(last.outcome.status, store::ItemStatus::kFailed);
  EXPECT_EQ(last.outcome.result, R"("upstream down")");  // kept as JSON text
  EXPECT_EQ(last.outcome.error, "HTTP 502 (after 3 attempts)");
  // No answer at all, or a cancelled invocation, is a server error too.
  EXPECT_EQ(decide_item_outcome(response(0, ""), 1, 3).action, Action::kRelease);
  EXPECT_EQ(decide_item_outcome(response(api::kInvocationCancelled, "{}"), 1, 3).action, Action::kRelease);
}

TEST(ItemOutcomeTest, InvocationOfAClaim) {
  store::Claim claim;
  claim.item.job_id = "job_1";
  claim.item.index = 4;
  claim.item.request = R"({"prompt": "x", "stream": true})";
  claim.model = "@cf/meta/llama 3";
  claim.endpoint = "/ai/run";
  ItemInvocation workers = item_invocation(claim);
  EXPECT_EQ(workers.method, "POST");
  EXPECT_EQ(workers.target, "/ai/run/@cf/meta/llama%203");
  EXPECT_EQ(workers.body, R"({"prompt":"x","stream":false})");
  const auto header = [&](const std::string& name) {
    for (const auto& [key, value] : workers.headers) {
      if (key == name) return value;
    }
    return std::string();
  };
  EXPECT_EQ(header("x-tether-priority"), "async");
  EXPECT_EQ(header("x-request-id"), "job_1/4");
  claim.endpoint = "/v1/chat/completions";
  claim.item.request = "[1, 2";
  ItemInvocation chat = item_invocation(claim);
  EXPECT_EQ(chat.target, "/v1/chat/completions");
  EXPECT_EQ(chat.body, "[1, 2");  // the route answers it 400
}

}  // namespace
}  // namespace tether::jobs
