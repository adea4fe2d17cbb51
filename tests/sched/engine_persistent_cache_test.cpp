#include <filesystem>
#include <vector>

#include <gtest/gtest.h>

#include "common/split_mix64.h"
#include "sched/engine.h"
#include "sched/engine_test_support.h"
#include "test_paths.h"

namespace tether::sched {
namespace {

using generation::GenerationRequest;
using generation::GenerationResult;
using testing::concat;
using testing::greedy_tokens;
using testing::load_tiny_model;
using testing::make_request;
using testing::random_tokens;
using testing::reference_results;
using testing::small_options;
using testing::tiny_tokenizer;

EngineOptions persistent_options(const std::filesystem::path& dir) {
  EngineOptions options = small_options(4, 64);
  options.persistent_cache_dir = dir;
  return options;
}

TEST(EnginePersistentCache, ARestartedEngineServesTheFirstWarmTurnFromDiskWithIdenticalTokens) {
  const auto dir = tether::testing::make_temp_dir("persistent_cache");
  SplitMix64 rng(11);
  const auto system = random_tokens(rng, 29);
  const GenerationRequest turn1 = greedy_tokens(concat(system, random_tokens(rng, 6)), 7);
  std::vector<GenerationResult> first;
  {
    Engine engine(load_tiny_model(), tiny_tokenizer(), persistent_options(dir));
    first.push_back(run_to_completion(engine, make_request(turn1)));
  }  // shutdown: everything cached is on disk
  int block_files = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    block_files += entry.path().extension() == ".kvb" ? 1 : 0;
  }
  EXPECT_EQ(block_files, 10);
  // Turn 2 re-sends turn 1 and its answer, as an agent does.
  const GenerationRequest turn2 =
      greedy_tokens(concat(concat(turn1.prompt_tokens, first[0].tokens), random_tokens(rng, 5)), 6);
  Engine restarted(load_tiny_model(), tiny_tokenizer(), persistent_options(dir));
  RequestUsage usage;
  const GenerationResult second = run_to_completion(restarted, make_request(turn2), &usage);
  // Turn 1 computed K/V for its 35 prompt tokens and 6 of its 7 answer
  // tokens (the last one is sampled, never fed): 41 positions, so 10 full
  // blocks of 4, all of which come back from disk.
  EXPECT_EQ(usage.cached_prompt_tokens, 40);
  // And the tokens are exactly what a plain, cache-free run gives.
  const auto reference = reference_results({turn1, turn2});
  EXPECT_EQ(first[0].tokens, reference[0].tokens);
  EXPECT_EQ(second.tokens, reference[1].tokens);
  EXPECT_EQ(second.text, reference[1].text);
}

TEST(EnginePersistentCache, AnotherTenantOrPrefixCachingOffFindsNothingOnDisk) {
  const auto dir = tether::testing::make_temp_dir("persistent_cache_salt");
  SplitMix64 rng(12);
  const GenerationRequest request = greedy_tokens(random_tokens(rng, 41), 3);
  {
    Engine engine(load_tiny_model(), tiny_tokenizer(), persistent_options(dir));
    run_to_completion(engine, make_request(request, Priority::kInteractive, "tenant-a"));
  }
  {
    Engine engine(load_tiny_model(), tiny_tokenizer(), persistent_options(dir));
    RequestUsage usage;
    run_to_completion(engine, make_request(request, Priority::kInteractive, "tenant-b"), &usage);
    EXPECT_EQ(usage.cached_prompt_tokens, 0);
  }
  EngineOptions off = persistent_options(dir);
  off.prefix_caching = false;
  Engine engine(load_tiny_model(), tiny_tokenizer(), off);
  RequestUsage usage;
  run_to_completion(engine, make_request(request, Priority::kInteractive, "tenant-a"), &usage);
  EXPECT_EQ(usage.cached_prompt_tokens, 0);
}

}  // namespace
}  // namespace tether::sched
