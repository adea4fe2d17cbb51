// Many requests with random shared prefixes, two tenants, random
// cancellations (from callbacks and from the submitting thread) and a KV
// budget small enough to force preemption and eviction. The engine checks
// the block pool against every live block table after each step; every
// request that is not cancelled must produce exactly the tokens it produces
// alone, and a cancelled one a prefix of them.

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "common/split_mix64.h"
#include "sched/engine.h"
#include "sched/engine_test_support.h"

namespace tether::sched {
namespace {

using generation::GenerationRequest;
using generation::GenerationResult;
using tokenizer::TokenId;

constexpr int kRequests = 120;
constexpr int kSystemPrompts = 3;
constexpr int kSystemPromptTokens = 30;
constexpr int32_t kBlockTokens = 4;
constexpr int32_t kPoolBlocks = 28;  // 112 positions for up to 8 sequences of up to 69

struct StressRequest {
  GenerationRequest generation;
  std::string salt;
  Priority priority = Priority::kInteractive;
  int cancel_after_tokens = 0;  // > 0: the token callback cancels it
  bool cancel_from_outside = false;
  std::atomic<uint64_t> id{0};
  std::promise<void> done;
  std::atomic<int> finishes{0};
  int streamed_tokens = 0;
  GenerationResult result;
  RequestUsage usage;
};

void run_stress(uint64_t seed) {
  SplitMix64 rng(seed);
  const auto random = [&](uint64_t n) { return rng.next() % n; };
  std::vector<std::vector<TokenId>> systems(kSystemPrompts);
  for (auto& system : systems) {
    for (int i = 0; i < kSystemPromptTokens; ++i) system.push_back(static_cast<TokenId>(10 + random(400)));
  }
  std::vector<std::unique_ptr<StressRequest>> requests;
  std::vector<GenerationRequest> alone;
  for (int idx = 0; idx < kRequests; ++idx) {
    auto request = std::make_unique<StressRequest>();
    const auto& system = systems[random(kSystemPrompts)];
    std::vector<TokenId> prompt(system.begin(), system.begin() + static_cast<ptrdiff_t>(random(kSystemPromptTokens + 1)));
    const int suffix = 1 + static_cast<int>(random(15));
    for (int i = 0; i < suffix; ++i) prompt.push_back(static_cast<TokenId>(10 + random(400)));
    request->generation = testing::greedy_tokens(prompt, 1 + static_cast<int32_t>(random(24)));
    request->salt = random(2) == 0 ? "tenant-a" : "tenant-b";
    request->priority = random(3) == 0 ? Priority::kAsync : Priority::kInteractive;
    if (random(8) == 0) request->cancel_after_tokens = 1 + static_cast<int>(random(4));
    request->cancel_from_outside = random(10) == 0;
    alone.push_back(request->generation);
    requests.push_back(std::move(request));
  }
  const std::vector<GenerationResult> expected = testing::reference_results(alone);

  EngineOptions options;
  options.block_tokens = kBlockTokens;
  options.kv_memory_bytes = testing::kv_bytes_for_blocks(kPoolBlocks, kBlockTokens);
  options.step_token_budget = 24;
  options.max_running = 8;
  options.max_queued = 1000;
  options.threads = 1;
  options.check_invariants = true;
  Engine engine(testing::load_tiny_model(), testing::tiny_tokenizer(), options);
  ASSERT_EQ(engine.total_blocks(), kPoolBlocks);

  for (auto& request_ptr : requests) {
    StressRequest* request = request_ptr.get();
    Callbacks callbacks;
    callbacks.on_token = [request, &engine](std::string_view, const sampling::SampledToken&) {
      ++request->streamed_tokens;
      if (request->cancel_after_tokens > 0 && request->streamed_tokens >= request->cancel_after_tokens &&
          request->id.load() != 0) {
        engine.cancel(request->id.load());
      }
    };
    callbacks.on_finish = [request](const GenerationResult& result, const RequestUsage& usage) {
      request->result = result;
      request->usage = usage;
      if (request->finishes.fetch_add(1) == 0) request->done.set_value();
    };
    const SubmitResult submitted = engine.submit(
        testing::make_request(request->generation, request->priority, request->salt),
        std::move(callbacks));
    ASSERT_EQ(submitted.status, SubmitStatus::kAccepted) << submitted.error;
    request->id = submitted.id;
    if (random(4) == 0) std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  for (auto& request : requests) {
    if (request->cancel_from_outside) engine.cancel(request->id.load());
  }
  for (auto& request : requests) {
    ASSERT_EQ(request->done.get_future().wait_for(std::chrono::seconds(120)), std::future_status::ready)
        << "request " << request->id.load() << " never finished";
  }

  int completed = 0;
  int cancelled = 0;
  for (size_t idx = 0; idx < requests.size(); ++idx) {
    const StressRequest& request = *requests[idx];
    SCOPED_TRACE(::testing::Message() << "request " << idx);
    EXPECT_EQ(request.finishes.load(), 1);
    const std::vector<TokenId>& want = expected[idx].tokens;
    if (request.usage.status == RequestStatus::kCompleted) {
      ++completed;
      EXPECT_EQ(request.result.tokens, want);
      EXPECT_EQ(request.result.text, expected[idx].text);
    } else {
      ASSERT_EQ(request.usage.status, RequestStatus::kCancelled) << request.usage.error;
      EXPECT_TRUE(request.cancel_after_tokens > 0 || request.cancel_from_outside);
      ++cancelled;
      ASSERT_LE(request.result.tokens.size(), want.size());
      EXPECT_TRUE(std::equal(request.result.tokens.begin(), request.result.tokens.end(), want.begin()));
    }
  }

  EngineStats stats = engine.stats();
  for (int attempt = 0; attempt < 1000 && (stats.running > 0 || stats.waiting > 0); ++attempt) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    stats = engine.stats();
  }
  EXPECT_EQ(stats.invariant_violation, "");
  EXPECT_GT(stats.invariant_checks, 50u);
  EXPECT_EQ(stats.kv.used_blocks, 0);
  EXPECT_EQ(stats.completed + stats.cancelled, static_cast<uint64_t>(kRequests));
  EXPECT_EQ(stats.failed, 0u);
  EXPECT_GT(completed, kRequests / 2);
  EXPECT_GT(stats.preemptions, 0u);
  EXPECT_GT(stats.kv.evicted_blocks, 0u);
  EXPECT_GT(stats.kv.hit_blocks, 0u);
  std::printf("[ stats    ] seed %llu steps %llu completed %d cancelled %d preemptions %llu hit blocks %llu/%llu "
              "waits %llu evicted %llu schedule %.1f ms forward %.1f ms\n",
              static_cast<unsigned long long>(seed), static_cast<unsigned long long>(stats.steps), completed,
              cancelled, static_cast<unsigned long long>(stats.preemptions),
              static_cast<unsigned long long>(stats.kv.hit_blocks),
              static_cast<unsigned long long>(stats.kv.query_blocks),
              static_cast<unsigned long long>(stats.kv.waits),
              static_cast<unsigned long long>(stats.kv.evicted_blocks), stats.schedule_ms, stats.forward_ms);
}

TEST(EngineStress, SharedPrefixesCancellationsPreemptionAndEvictionKeepOutputsExact) {
  for (const uint64_t seed : {1ull, 2ull}) {
    SCOPED_TRACE(seed);
    run_stress(seed);
    if (HasFatalFailure()) return;
  }
}

}  // namespace
}  // namespace tether::sched
