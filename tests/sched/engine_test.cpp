#include "sched/engine.h"

#include <atomic>
#include <chrono>
#include <future>
#include <stdexcept>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "common/error.h"
#include "common/split_mix64.h"
#include "sched/engine_test_support.h"

namespace tether::sched {
namespace {

using generation::GenerationRequest;
using generation::GenerationResult;
using testing::greedy_tokens;
using testing::make_request;
using testing::kv_bytes_for_blocks;
using testing::load_tiny_model;
using testing::reference_results;
using testing::tiny_tokenizer;
using testing::small_options;
using testing::random_tokens;
using testing::concat;
using tokenizer::TokenId;

// Outcome of one submitted request, filled by its callbacks.
struct Outcome {
  std::promise<void> done;
  GenerationResult result;
  RequestUsage usage;
  std::string streamed;
  std::vector<sampling::SampledToken> tokens;
  int finishes = 0;
};

Callbacks record_into(Outcome& outcome) {
  Callbacks callbacks;
  callbacks.on_token = [&outcome](std::string_view text, const sampling::SampledToken& token) {
    outcome.streamed.append(text);
    outcome.tokens.push_back(token);
  };
  callbacks.on_finish = [&outcome](const GenerationResult& result, const RequestUsage& usage) {
    outcome.result = result;
    outcome.usage = usage;
    if (++outcome.finishes == 1) outcome.done.set_value();
  };
  return callbacks;
}

// Submits every request at once and waits for all of them.
std::vector<GenerationResult> run_all(Engine& engine, const std::vector<GenerationRequest>& requests,
                                      std::vector<RequestUsage>* usages = nullptr) {
  std::vector<Outcome> outcomes(requests.size());
  for (size_t idx = 0; idx < requests.size(); ++idx) {
    const SubmitResult submitted = engine.submit(make_request(requests[idx]), record_into(outcomes[idx]));
    EXPECT_EQ(submitted.status, SubmitStatus::kAccepted) << submitted.error;
  }
  std::vector<GenerationResult> results;
  for (Outcome& outcome : outcomes) {
    outcome.done.get_future().wait();
    EXPECT_EQ(outcome.finishes, 1);
    EXPECT_EQ(outcome.usage.status, RequestStatus::kCompleted) << outcome.usage.error;
    EXPECT_EQ(outcome.streamed, outcome.result.text);
    results.push_back(outcome.result);
    if (usages != nullptr) usages->push_back(outcome.usage);
  }
  return results;
}

// Waits until the scheduler has nothing left (stats are published per step).
EngineStats settled_stats(const Engine& engine) {
  for (int attempt = 0; attempt < 2000; ++attempt) {
    const EngineStats stats = engine.stats();
    if (stats.running == 0 && stats.waiting == 0) return stats;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return engine.stats();
}

TEST(Engine, GreedyTokensMatchTheGeneratorForAnyChunkBlockSizeAndCaching) {
  SplitMix64 rng(42);
  const std::vector<TokenId> system = random_tokens(rng, 37);
  std::vector<GenerationRequest> requests;
  requests.push_back(greedy_tokens(concat(system, random_tokens(rng, 5)), 6));
  requests.push_back(greedy_tokens(concat(system, random_tokens(rng, 9)), 7));
  requests.push_back(greedy_tokens(system, 5));  // the whole prefix, block-aligned or not
  requests.push_back(greedy_tokens(concat(system, random_tokens(rng, 1)), 8));
  requests.push_back(greedy_tokens(random_tokens(rng, 20), 6));  // shares nothing
  requests.push_back(greedy_tokens({system.begin(), system.begin() + 16}, 6));
  const std::vector<GenerationResult> expected = reference_results(requests);

  for (const int32_t block_tokens : {4, 16}) {
    for (const int32_t budget : {1, 3, 16, 4096}) {
      for (const bool caching : {true, false}) {
        SCOPED_TRACE(::testing::Message() << "block " << block_tokens << " budget " << budget
                                          << " caching " << caching);
        EngineOptions options = small_options(block_tokens, 512 / block_tokens * 4);
        options.step_token_budget = budget;
        options.prefix_caching = caching;
        Engine engine(load_tiny_model(), tiny_tokenizer(), options);
        // The first request alone fills the cache, then the rest run together.
        std::vector<RequestUsage> usages;
        std::vector<GenerationResult> results = run_all(engine, {requests[0]}, &usages);
        const std::vector<GenerationResult> rest =
            run_all(engine, {requests.begin() + 1, requests.end()}, &usages);
        results.insert(results.end(), rest.begin(), rest.end());
        ASSERT_EQ(results.size(), expected.size());
        int32_t cached_tokens = 0;
        for (size_t idx = 0; idx < requests.size(); ++idx) {
          EXPECT_EQ(results[idx].tokens, expected[idx].tokens) << "request " << idx;
          EXPECT_EQ(results[idx].text, expected[idx].text) << "request " << idx;
          EXPECT_EQ(usages[idx].completion_tokens, requests[idx].max_tokens);
          cached_tokens += usages[idx].cached_prompt_tokens;
        }
        const EngineStats stats = settled_stats(engine);
        EXPECT_EQ(stats.invariant_violation, "");
        EXPECT_GT(stats.invariant_checks, 0u);
        EXPECT_EQ(stats.kv.used_blocks, 0);
        if (caching) {
          // Requests 1..3 reuse at least the system prompt's full blocks.
          EXPECT_GE(cached_tokens, 3 * (36 / block_tokens) * block_tokens);
          EXPECT_GT(stats.kv.hit_blocks, 0u);
        } else {
          EXPECT_EQ(cached_tokens, 0);
          EXPECT_EQ(stats.kv.hit_blocks, 0u);
        }
      }
    }
  }
}

TEST(Engine, SampledRequestsWithStopStringsAndLogprobsMatchTheGenerator) {
  GenerationRequest plain;
  plain.prompt = "Once upon a time";
  plain.max_tokens = 24;
  plain.sampling.temperature = 0.0f;
  plain.sampling.ignore_eos = true;
  const std::string text = reference_results({plain})[0].text;
  ASSERT_GE(text.size(), 8u);

  GenerationRequest stopped = plain;
  stopped.stop = {text.substr(text.size() / 2, 3)};
  GenerationRequest sampled;
  sampled.prompt = "Sampling through the engine";
  sampled.max_tokens = 16;
  sampled.sampling.temperature = 0.9f;
  sampled.sampling.top_k = 40;
  sampled.sampling.seed = 11;
  sampled.sampling.n_logprobs = 2;
  sampled.sampling.repetition_penalty = 1.1f;
  GenerationRequest eos = plain;
  eos.sampling.ignore_eos = false;
  eos.sampling.logit_bias = {{tiny_tokenizer()->eos_id(), 1000.0f}};
  const std::vector<GenerationRequest> requests{plain, stopped, sampled, eos};
  const std::vector<GenerationResult> expected = reference_results(requests);

  Engine engine(load_tiny_model(), tiny_tokenizer(), small_options(16, 64));
  const std::vector<GenerationResult> results = run_all(engine, requests);
  for (size_t idx = 0; idx < requests.size(); ++idx) {
    SCOPED_TRACE(idx);
    EXPECT_EQ(results[idx].tokens, expected[idx].tokens);
    EXPECT_EQ(results[idx].text, expected[idx].text);
    EXPECT_EQ(results[idx].finish_reason, expected[idx].finish_reason);
    EXPECT_EQ(results[idx].stop_string, expected[idx].stop_string);
    ASSERT_EQ(results[idx].logprobs.size(), expected[idx].logprobs.size());
    for (size_t i = 0; i < results[idx].logprobs.size(); ++i) {
      EXPECT_EQ(results[idx].logprobs[i].id, expected[idx].logprobs[i].id);
      EXPECT_FLOAT_EQ(results[idx].logprobs[i].logprob, expected[idx].logprobs[i].logprob);
      EXPECT_EQ(results[idx].logprobs[i].top_logprobs.size(), 2u);
    }
  }
  EXPECT_EQ(results[1].finish_reason, generation::FinishReason::kStop);
  EXPECT_FALSE(results[1].stop_string.empty());
  EXPECT_EQ(results[3].tokens, std::vector<TokenId>{tiny_tokenizer()->eos_id()});
}

TEST(Engine, ReportsUsageAndCacheStats) {
  Engine engine(load_tiny_model(), tiny_tokenizer(), small_options(4, 64));
  EXPECT_EQ(engine.total_blocks(), 64);
  SplitMix64 rng(3);
  const GenerationRequest request = greedy_tokens(random_tokens(rng, 23), 5);
  RequestUsage first;
  const GenerationResult a = run_to_completion(engine, make_request(request), &first);
  RequestUsage second;
  const GenerationResult b = run_to_completion(engine, make_request(request), &second);
  EXPECT_EQ(a.tokens, b.tokens);
  EXPECT_EQ(first.status, RequestStatus::kCompleted);
  EXPECT_EQ(first.prompt_tokens, 23);
  EXPECT_EQ(first.cached_prompt_tokens, 0);
  EXPECT_EQ(second.cached_prompt_tokens, 20);  // every full block of 4 but the last token's
  EXPECT_EQ(first.completion_tokens, 5);
  EXPECT_EQ(a.usage.prompt_tokens, 23);
  EXPECT_EQ(a.usage.completion_tokens, 5);
  for (const RequestUsage& usage : {first, second}) {
    EXPECT_GE(usage.queue_ms, 0.0);
    EXPECT_GE(usage.ttft_ms, usage.queue_ms);
    EXPECT_GE(usage.total_ms, usage.ttft_ms);
    EXPECT_GE(usage.decode_ms, 0.0);
    EXPECT_EQ(usage.preemptions, 0);
  }
  const EngineStats stats = settled_stats(engine);
  EXPECT_EQ(stats.kv.queries, 2u);
  EXPECT_EQ(stats.kv.hit_blocks, 5u);
  EXPECT_EQ(stats.kv.hit_tokens, 20u);
  EXPECT_EQ(stats.kv.total_blocks, 64);
  EXPECT_EQ(stats.kv.used_blocks, 0);
  EXPECT_GT(stats.kv.cached_blocks, 0);
  EXPECT_EQ(stats.submitted, 2u);
  EXPECT_EQ(stats.completed, 2u);
  EXPECT_GT(stats.steps, 0u);
  EXPECT_GT(stats.step_tokens, 0u);
  EXPECT_EQ(stats.invariant_violation, "");
}

TEST(Engine, SaltsSeparateTenants) {
  Engine engine(load_tiny_model(), tiny_tokenizer(), small_options(4, 64));
  SplitMix64 rng(4);
  const GenerationRequest request = greedy_tokens(random_tokens(rng, 17), 3);
  RequestUsage usage;
  run_to_completion(engine, make_request(request, Priority::kInteractive, "tenant-a"), &usage);
  run_to_completion(engine, make_request(request, Priority::kInteractive, "tenant-b"), &usage);
  EXPECT_EQ(usage.cached_prompt_tokens, 0);
  run_to_completion(engine, make_request(request, Priority::kInteractive, "tenant-a"), &usage);
  EXPECT_EQ(usage.cached_prompt_tokens, 16);
}

TEST(Engine, CancelStopsTheSequenceWithinOneStepAndFreesItsBlocks) {
  Engine engine(load_tiny_model(), tiny_tokenizer(), small_options(4, 64));
  SplitMix64 rng(5);
  Outcome outcome;
  std::atomic<uint64_t> id{0};
  Callbacks callbacks = record_into(outcome);
  auto record = callbacks.on_token;
  callbacks.on_token = [&](std::string_view text, const sampling::SampledToken& token) {
    record(text, token);
    if (outcome.tokens.size() == 3) {
      while (id.load() == 0) std::this_thread::yield();  // submit() is about to return
      engine.cancel(id.load());
    }
  };
  const SubmitResult submitted =
      engine.submit(make_request(greedy_tokens(random_tokens(rng, 10), 500)), std::move(callbacks));
  ASSERT_EQ(submitted.status, SubmitStatus::kAccepted);
  id = submitted.id;
  outcome.done.get_future().wait();
  EXPECT_EQ(outcome.usage.status, RequestStatus::kCancelled);
  // The cancel was taken before the next step: no fourth token.
  EXPECT_EQ(outcome.result.tokens.size(), 3u);
  EXPECT_EQ(outcome.usage.completion_tokens, 3);
  const EngineStats stats = settled_stats(engine);
  EXPECT_EQ(stats.kv.used_blocks, 0);
  EXPECT_EQ(stats.cancelled, 1u);
  engine.cancel(submitted.id);  // finished ids are ignored
  engine.cancel(12345);
  EXPECT_EQ(settled_stats(engine).cancelled, 1u);
}

// Holds the scheduler thread inside a callback until released.
class Gate {
 public:
  void wait_for_release() {
    entered_.set_value();
    released_.get_future().wait();
  }
  void wait_until_entered() { entered_.get_future().wait(); }
  void release() { released_.set_value(); }

 private:
  std::promise<void> entered_;
  std::promise<void> released_;
};

TEST(Engine, AnswersFullInsteadOfQueueingWithoutBound) {
  EngineOptions options = small_options(16, 64);
  options.max_queued = 2;
  Engine engine(load_tiny_model(), tiny_tokenizer(), options);
  Gate gate;
  Outcome first;
  Callbacks callbacks = record_into(first);
  std::atomic<bool> gated{false};
  auto record = callbacks.on_token;
  callbacks.on_token = [&](std::string_view text, const sampling::SampledToken& token) {
    record(text, token);
    if (!gated.exchange(true)) gate.wait_for_release();
  };
  ASSERT_EQ(engine.submit(make_request(greedy_tokens({1, 2, 3}, 3)), std::move(callbacks)).status,
            SubmitStatus::kAccepted);
  gate.wait_until_entered();  // the first request runs; nothing waits
  std::vector<Outcome> queued(2);
  for (Outcome& outcome : queued) {
    EXPECT_EQ(engine.submit(make_request(greedy_tokens({4, 5}, 2)), record_into(outcome)).status,
              SubmitStatus::kAccepted);
  }
  const SubmitResult full = engine.submit(make_request(greedy_tokens({6}, 2)), {});
  EXPECT_EQ(full.status, SubmitStatus::kFull);
  EXPECT_NE(full.error.find("full"), std::string::npos);
  EXPECT_EQ(engine.stats().rejected, 1u);
  gate.release();
  first.done.get_future().wait();
  for (Outcome& outcome : queued) {
    outcome.done.get_future().wait();
    EXPECT_EQ(outcome.usage.status, RequestStatus::kCompleted);
  }
  // Room again once the queue drained.
  EXPECT_EQ(run_to_completion(engine, make_request(greedy_tokens({6}, 2))).tokens.size(), 2u);
}

TEST(Engine, CancellingAQueuedRequestFinishesItWithoutTokens) {
  Engine engine(load_tiny_model(), tiny_tokenizer(), small_options(16, 64));
  Gate gate;
  Outcome first;
  Callbacks callbacks = record_into(first);
  std::atomic<bool> gated{false};
  auto record = callbacks.on_token;
  callbacks.on_token = [&](std::string_view text, const sampling::SampledToken& token) {
    record(text, token);
    if (!gated.exchange(true)) gate.wait_for_release();
  };
  ASSERT_EQ(engine.submit(make_request(greedy_tokens({1, 2, 3}, 3)), std::move(callbacks)).status,
            SubmitStatus::kAccepted);
  gate.wait_until_entered();
  Outcome queued;
  const SubmitResult submitted = engine.submit(make_request(greedy_tokens({4, 5}, 8)), record_into(queued));
  ASSERT_EQ(submitted.status, SubmitStatus::kAccepted);
  engine.cancel(submitted.id);
  gate.release();
  queued.done.get_future().wait();
  EXPECT_EQ(queued.usage.status, RequestStatus::kCancelled);
  EXPECT_TRUE(queued.result.tokens.empty());
  EXPECT_TRUE(queued.tokens.empty());
  first.done.get_future().wait();
  EXPECT_EQ(first.usage.status, RequestStatus::kCompleted);
  EXPECT_EQ(first.result.tokens.size(), 3u);
}

TEST(Engine, AThrowingTokenCallbackCancelsOnlyItsRequest) {
  Engine engine(load_tiny_model(), tiny_tokenizer(), small_options(16, 64));
  Outcome thrower;
  Callbacks callbacks = record_into(thrower);
  callbacks.on_token = [](std::string_view, const sampling::SampledToken&) { throw std::runtime_error("client gone"); };
  ASSERT_EQ(engine.submit(make_request(greedy_tokens({1, 2, 3}, 50)), std::move(callbacks)).status,
            SubmitStatus::kAccepted);
  const GenerationResult other = run_to_completion(engine, make_request(greedy_tokens({1, 2, 3}, 5)));
  EXPECT_EQ(other.tokens.size(), 5u);
  thrower.done.get_future().wait();
  EXPECT_EQ(thrower.usage.status, RequestStatus::kCancelled);
  EXPECT_EQ(thrower.result.tokens.size(), 1u);
  EXPECT_EQ(settled_stats(engine).kv.used_blocks, 0);
}

TEST(Engine, InteractiveRequestsGoBeforeAsyncOnesFifoWithinAClass) {
  EngineOptions options = small_options(16, 64);
  options.max_running = 1;
  Engine engine(load_tiny_model(), tiny_tokenizer(), options);
  Gate gate;
  std::mutex order_mutex;
  std::vector<std::string> order;
  std::vector<std::promise<void>> done(5);
  std::atomic<bool> gated{false};
  const auto submit = [&](std::string name, Priority priority, size_t done_idx) {
    Callbacks callbacks;
    callbacks.on_token = [&, name](std::string_view, const sampling::SampledToken&) {
      if (name == "first" && !gated.exchange(true)) gate.wait_for_release();
    };
    callbacks.on_finish = [&, name, done_idx](const GenerationResult&, const RequestUsage&) {
      {
        std::lock_guard lock(order_mutex);
        order.push_back(name);
      }
      done[done_idx].set_value();
    };
    ASSERT_EQ(engine.submit(make_request(greedy_tokens({7, 8, 9}, 3), priority), callbacks).status,
              SubmitStatus::kAccepted);
  };
  submit("first", Priority::kInteractive, 0);
  gate.wait_until_entered();
  submit("async-1", Priority::kAsync, 1);
  submit("interactive-1", Priority::kInteractive, 2);
  submit("async-2", Priority::kAsync, 3);
  submit("interactive-2", Priority::kInteractive, 4);
  gate.release();
  for (auto& promise : done) promise.get_future().wait();
  EXPECT_EQ(order, (std::vector<std::string>{"first", "interactive-1", "interactive-2", "async-1", "async-2"}));
}

// Waits until `done` holds for the engine's published stats (at most 10 s).
template <class Pred>
EngineStats stats_when(const Engine& engine, Pred done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  EngineStats stats = engine.stats();
  while (!done(stats) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    stats = engine.stats();
  }
  return stats;
}

TEST(Engine, StatsCountAsyncSequencesApart) {
  // Long sequences, each token slowed down, so none ends on its own while
  // the test looks.
  std::vector<Outcome> outcomes(3);
  const auto slow = [](Outcome& outcome) {
    Callbacks callbacks = record_into(outcome);
    callbacks.on_token = [](std::string_view, const sampling::SampledToken&) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    };
    return callbacks;
  };
  EngineOptions options = small_options(16, 256);
  options.max_running = 1;
  Engine engine(load_tiny_model(), tiny_tokenizer(), options);
  const SubmitResult async_id =
      engine.submit(make_request(greedy_tokens({7, 8, 9}, 2000), Priority::kAsync), slow(outcomes[0]));
  ASSERT_EQ(async_id.status, SubmitStatus::kAccepted);
  EngineStats stats = stats_when(engine, [](const EngineStats& s) { return s.running_async == 1; });
  EXPECT_EQ(stats.running, 1);
  EXPECT_EQ(stats.running_async, 1);
  EXPECT_EQ(stats.waiting_async, 0);

  // An interactive arrival displaces the async sequence: it waits now.
  const SubmitResult interactive_id =
      engine.submit(make_request(greedy_tokens({4, 5, 6}, 2000)), slow(outcomes[1]));
  ASSERT_EQ(interactive_id.status, SubmitStatus::kAccepted);
  const SubmitResult second_async_id =
      engine.submit(make_request(greedy_tokens({1, 2}, 2000), Priority::kAsync), slow(outcomes[2]));
  ASSERT_EQ(second_async_id.status, SubmitStatus::kAccepted);
  stats = stats_when(engine, [](const EngineStats& s) { return s.running_async == 0 && s.waiting_async == 2; });
  EXPECT_EQ(stats.running, 1);
  EXPECT_EQ(stats.running_async, 0);
  EXPECT_EQ(stats.waiting, 2);
  EXPECT_EQ(stats.waiting_async, 2);

  engine.cancel(interactive_id.id);
  stats = stats_when(engine, [](const EngineStats& s) { return s.running_async == 1; });
  EXPECT_EQ(stats.running_async, 1);
  EXPECT_EQ(stats.waiting_async, 1);
  engine.cancel(async_id.id);
  engine.cancel(second_async_id.id);
  stats = settled_stats(engine);
  EXPECT_EQ(stats.running_async + stats.waiting_async, 0);
  EXPECT_EQ(stats.cancelled, 3u);
}

TEST(Engine, ASequenceTooLongForThePoolFailsInsteadOfLooping) {
  // Two blocks of 4 tokens: 8 positions in all.
  Engine engine(load_tiny_model(), tiny_tokenizer(), small_options(4, 2));
  EXPECT_EQ(engine.total_blocks(), 2);
  RequestUsage usage;
  try {
    run_to_completion(engine, make_request(greedy_tokens({1, 2, 3, 4, 5}, 20)), &usage);
    ADD_FAILURE() << "expected a failure";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("cannot hold"), std::string::npos) << error.what();
  }
  // A prompt that alone exceeds the pool is refused at the door.
  const SubmitResult too_long = engine.submit(make_request(greedy_tokens(std::vector<TokenId>(9, 3), 2)), {});
  EXPECT_EQ(too_long.status, SubmitStatus::kInvalid);
  EXPECT_NE(too_long.error.find("9 tokens"), std::string::npos);
  // What fits still runs: 5 prompt + 3 generated = 8 positions, the last
  // token needing none.
  EXPECT_EQ(run_to_completion(engine, make_request(greedy_tokens({1, 2, 3, 4, 5}, 4))).tokens.size(), 4u);
  const EngineStats stats = settled_stats(engine);
  EXPECT_EQ(stats.failed, 1u);
  EXPECT_EQ(stats.kv.used_blocks, 0);
  EXPECT_EQ(stats.invariant_violation, "");
}

TEST(Engine, RejectsMalformedRequestsAndOptions) {
  Engine engine(load_tiny_model(), tiny_tokenizer(), small_options(16, 8));
  GenerationRequest zero = greedy_tokens({1, 2}, 0);
  EXPECT_EQ(engine.submit(make_request(zero), {}).status, SubmitStatus::kInvalid);
  GenerationRequest bad_id = greedy_tokens({1, 999999}, 2);
  EXPECT_EQ(engine.submit(make_request(bad_id), {}).status, SubmitStatus::kInvalid);
  GenerationRequest bad_sampling = greedy_tokens({1, 2}, 2);
  bad_sampling.sampling.top_p = 2.0f;
  const SubmitResult result = engine.submit(make_request(bad_sampling), {});
  EXPECT_EQ(result.status, SubmitStatus::kInvalid);
  EXPECT_FALSE(result.error.empty());
  EXPECT_THROW(run_to_completion(engine, make_request(zero)), Error);

  EngineOptions tiny_budget = small_options(16, 1);
  tiny_budget.kv_memory_bytes -= 1;  // less than one block
  EXPECT_THROW({ Engine engine_(load_tiny_model(), tiny_tokenizer(), tiny_budget); }, Error);
  EngineOptions no_budget = small_options(16, 8);
  no_budget.step_token_budget = 0;
  EXPECT_THROW({ Engine engine_(load_tiny_model(), tiny_tokenizer(), no_budget); }, Error);
}

TEST(Engine, ShutdownFinishesUnfinishedRequestsAsCancelled) {
  std::vector<Outcome> outcomes(4);
  {
    Engine engine(load_tiny_model(), tiny_tokenizer(), small_options(16, 64));
    for (Outcome& outcome : outcomes) {
      ASSERT_EQ(engine.submit(make_request(greedy_tokens({1, 2, 3}, 1000)), record_into(outcome)).status,
                SubmitStatus::kAccepted);
    }
  }
  for (Outcome& outcome : outcomes) {
    EXPECT_EQ(outcome.finishes, 1);
    EXPECT_EQ(outcome.usage.status, RequestStatus::kCancelled);
    EXPECT_LT(outcome.usage.completion_tokens, 1000);
  }
}

}  // namespace
}  // namespace tether::sched
