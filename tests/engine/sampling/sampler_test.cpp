#include "engine/sampling/sampler.h"

#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <vector>

#include <gtest/gtest.h>

#include "common/error.h"

namespace tether::sampling {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

// Tokens drawn over many seeds: which ids a configuration can ever produce.
std::set<TokenId> reachable(const SamplingParams& base, const std::vector<float>& logits, int draws = 400) {
  std::set<TokenId> seen;
  for (int i = 0; i < draws; ++i) {
    SamplingParams params = base;
    params.seed = static_cast<uint64_t>(i);
    Sampler sampler(params, static_cast<int32_t>(logits.size()));
    seen.insert(sampler.sample(logits).id);
  }
  return seen;
}

std::vector<double> softmax(const std::vector<float>& logits) {
  double max = -1e300;
  for (float v : logits) max = std::max(max, static_cast<double>(v));
  std::vector<double> p(logits.size());
  double sum = 0;
  for (size_t i = 0; i < logits.size(); ++i) sum += p[i] = std::exp(logits[i] - max);
  for (double& v : p) v /= sum;
  return p;
}

TEST(SamplerTest, GreedyIsArgmaxWithTiesToTheLowestId) {
  SamplingParams params;
  params.temperature = 0.0f;
  Sampler sampler(params, 5);
  EXPECT_EQ(sampler.sample(std::vector<float>{0.1f, 3.0f, -1.0f, 2.9f, 0.0f}).id, 1);
  EXPECT_EQ(sampler.sample(std::vector<float>{1.0f, 5.0f, 2.0f, 5.0f, 5.0f}).id, 1);
  EXPECT_EQ(sampler.sample(std::vector<float>{-7.0f, -7.0f, -9.0f, -8.0f, -7.5f}).id, 0);
}

TEST(SamplerTest, TopKKeepsExactlyTheKMostLikely) {
  const std::vector<float> logits{1.0f, 4.0f, 3.0f, 0.5f, 3.5f, 2.0f};
  SamplingParams params;
  params.top_k = 3;
  params.temperature = 5.0f;  // flatten so every kept token is drawn often
  EXPECT_EQ(reachable(params, logits), (std::set<TokenId>{1, 2, 4}));
  params.top_k = 1;
  EXPECT_EQ(reachable(params, logits), (std::set<TokenId>{1}));
}

TEST(SamplerTest, TopPKeepsTheSmallestSetReachingP) {
  // Probabilities 0.5, 0.25, 0.125, 0.0625, 0.0625.
  const std::vector<float> logits{std::log(0.5f), std::log(0.25f), std::log(0.125f), std::log(0.0625f),
                                  std::log(0.0625f)};
  SamplingParams params;
  params.top_p = 0.7f;  // 0.5 < 0.7 <= 0.75
  EXPECT_EQ(reachable(params, logits), (std::set<TokenId>{0, 1}));
  params.top_p = 0.75f;  // exactly reached by two tokens
  EXPECT_EQ(reachable(params, logits), (std::set<TokenId>{0, 1}));
  params.top_p = 0.76f;
  EXPECT_EQ(reachable(params, logits), (std::set<TokenId>{0, 1, 2}));
  params.top_p = 0.4f;  // the top token alone suffices
  EXPECT_EQ(reachable(params, logits), (std::set<TokenId>{0}));
}

TEST(SamplerTest, TopPOnALargeFlatVocabularyGrowsItsSortedPrefix) {
  // 1000 equal tokens: p = 0.5 must keep exactly the 500 lowest ids (ties by id).
  const std::vector<float> logits(1000, 0.0f);
  SamplingParams params;
  params.top_p = 0.5f;
  const std::set<TokenId> seen = reachable(params, logits, 3000);
  EXPECT_LE(*seen.rbegin(), 499);
  EXPECT_GT(seen.size(), 400u);
}

TEST(SamplerTest, TopPIsRelativeToTheTopKSurvivors) {
  // After top_k=2 the kept pair renormalises to 2/3, 1/3: p = 0.6 keeps one.
  const std::vector<float> logits{std::log(0.4f), std::log(0.2f), std::log(0.2f), std::log(0.2f)};
  SamplingParams params;
  params.top_k = 2;
  params.top_p = 0.6f;
  EXPECT_EQ(reachable(params, logits), (std::set<TokenId>{0}));
  params.top_p = 0.7f;
  EXPECT_EQ(reachable(params, logits), (std::set<TokenId>{0, 1}));
}

TEST(SamplerTest, MinPIsRelativeToTheMostLikelyToken) {
  // Probabilities proportional to 1, 0.5, 0.2, 0.05.
  const std::vector<float> logits{0.0f, std::log(0.5f), std::log(0.2f), std::log(0.05f)};
  SamplingParams params;
  params.min_p = 0.19f;
  EXPECT_EQ(reachable(params, logits), (std::set<TokenId>{0, 1, 2}));
  params.min_p = 0.3f;
  EXPECT_EQ(reachable(params, logits), (std::set<TokenId>{0, 1}));
  params.min_p = 1.0f;
  EXPECT_EQ(reachable(params, logits), (std::set<TokenId>{0}));
}

TEST(SamplerTest, RepetitionPenaltyDividesPositiveAndMultipliesNegativeLogits) {
  SamplingParams params;
  params.temperature = 0.0f;
  params.repetition_penalty = 2.0f;
  params.repetition_last_n = 2;
  params.n_logprobs = 4;
  Sampler sampler(params, 4);
  const std::vector<TokenId> prompt{3, 0, 1};  // window keeps the last two: 0 and 1
  sampler.add_prompt(prompt);
  const std::vector<float> logits{4.0f, -1.0f, 1.0f, 3.0f};
  const SampledToken token = sampler.sample(logits);
  // Processed: 2, -2, 1, 3 -> token 3 wins; the logprobs show the exact values.
  EXPECT_EQ(token.id, 3);
  const std::vector<float> expected{2.0f, -2.0f, 1.0f, 3.0f};
  double sum = 0;
  for (float v : expected) sum += std::exp(v);
  ASSERT_EQ(token.top_logprobs.size(), 4u);
  std::map<TokenId, float> by_id;
  for (const TokenLogprob& t : token.top_logprobs) by_id[t.id] = t.logprob;
  for (TokenId id = 0; id < 4; ++id) {
    EXPECT_NEAR(by_id[id], expected[static_cast<size_t>(id)] - std::log(sum), 1e-5) << id;
  }
}

TEST(SamplerTest, FrequencyAndPresencePenaltiesCountGeneratedTokensOnly) {
  SamplingParams params;
  params.temperature = 0.0f;
  params.frequency_penalty = 0.5f;
  params.presence_penalty = 0.25f;
  params.n_logprobs = 3;
  Sampler sampler(params, 3);
  const std::vector<TokenId> prompt{2, 2, 2};  // prompt tokens are not penalised
  sampler.add_prompt(prompt);
  sampler.accept(0);
  sampler.accept(0);
  sampler.accept(1);
  const SampledToken token = sampler.sample(std::vector<float>{1.0f, 1.0f, 1.0f});
  // 1 - 2*0.5 - 0.25 = -0.25; 1 - 0.5 - 0.25 = 0.25; 1.
  const std::vector<float> expected{-0.25f, 0.25f, 1.0f};
  double sum = 0;
  for (float v : expected) sum += std::exp(v);
  EXPECT_EQ(token.id, 2);
  EXPECT_NEAR(token.logprob, 1.0 - std::log(sum), 1e-5);
  ASSERT_EQ(token.top_logprobs.size(), 3u);
  EXPECT_EQ(token.top_logprobs[1].id, 1);
  EXPECT_NEAR(token.top_logprobs[1].logprob, 0.25 - std::log(sum), 1e-5);
  EXPECT_EQ(token.top_logprobs[2].id, 0);
  EXPECT_NEAR(token.top_logprobs[2].logprob, -0.25 - std::log(sum), 1e-5);
}

TEST(SamplerTest, LogitBiasShiftsAndMinusInfinityBans) {
  const std::vector<float> logits{5.0f, 1.0f, 0.0f};
  SamplingParams params;
  params.temperature = 0.0f;
  params.logit_bias = {{0, -kInf}, {2, 1.5f}};
  Sampler greedy(params, 3);
  EXPECT_EQ(greedy.sample(logits).id, 2);  // 0 banned, 0 + 1.5 > 1

  params.temperature = 3.0f;
  params.logit_bias = {{0, -kInf}};
  EXPECT_EQ(reachable(params, logits), (std::set<TokenId>{1, 2}));
  params.n_logprobs = 3;
  Sampler with_logprobs(params, 3);
  const SampledToken token = with_logprobs.sample(logits);
  EXPECT_EQ(token.top_logprobs.back().id, 0);
  EXPECT_EQ(token.top_logprobs.back().logprob, -kInf);

  params.logit_bias = {{0, -kInf}, {1, -kInf}, {2, -kInf}};
  Sampler all_banned(params, 3);
  EXPECT_THROW(all_banned.sample(logits), Error);
}

TEST(SamplerTest, SameSeedSameTokensDifferentSeedsDiffer) {
  std::vector<float> logits(50);
  for (size_t i = 0; i < logits.size(); ++i) logits[i] = static_cast<float>(i % 7) * 0.3f;
  const auto run = [&](uint64_t seed) {
    SamplingParams params;
    params.seed = seed;
    params.top_k = 40;
    params.top_p = 0.95f;
    Sampler sampler(params, 50);
    std::vector<TokenId> out;
    for (int i = 0; i < 64; ++i) {
      out.push_back(sampler.sample(logits).id);
      sampler.accept(out.back());
    }
    return out;
  };
  EXPECT_EQ(run(7), run(7));
  EXPECT_NE(run(7), run(8));
}

TEST(SamplerTest, RandomStreamIsFixedAcrossPlatforms) {
  // xoshiro256** from splitmix64(0): pinned so a library change is noticed.
  RandomGenerator rng(0);
  const uint64_t first = rng.next_u64();
  RandomGenerator again(0);
  EXPECT_EQ(again.next_u64(), first);
  EXPECT_EQ(first, 0x99ec5f36cb75f2b4ULL);
  const double u = rng.next_unit_double();
  EXPECT_GE(u, 0.0);
  EXPECT_LT(u, 1.0);
}

TEST(SamplerTest, SampledFrequenciesMatchTheSoftmax) {
  const std::vector<float> logits{0.0f, 1.0f, 2.0f, -1.0f, 0.5f, 1.5f};
  SamplingParams params;
  params.temperature = 0.7f;
  params.seed = 1234;
  Sampler sampler(params, 6);
  std::vector<float> scaled = logits;
  for (float& v : scaled) v /= 0.7f;
  const std::vector<double> p = softmax(scaled);
  const int draws = 20000;
  std::vector<int> counts(6, 0);
  for (int i = 0; i < draws; ++i) ++counts[static_cast<size_t>(sampler.sample(logits).id)];
  double chi_square = 0;
  for (size_t i = 0; i < 6; ++i) {
    const double expected = p[i] * draws;
    chi_square += (counts[i] - expected) * (counts[i] - expected) / expected;
  }
  // 5 degrees of freedom: 99.9th percentile is 20.5.
  EXPECT_LT(chi_square, 20.5) << chi_square;
}

TEST(SamplerTest, LogprobsAreTheFullSoftmaxOfTheTemperatureScaledLogits) {
  const std::vector<float> logits{0.3f, -0.2f, 1.1f, 0.0f, 2.0f, -3.0f, 0.7f};
  SamplingParams params;
  params.temperature = 2.0f;
  params.top_k = 2;  // truncation does not change reported logprobs
  params.n_logprobs = 7;
  Sampler sampler(params, 7);
  const SampledToken token = sampler.sample(logits);
  std::vector<float> scaled = logits;
  for (float& v : scaled) v /= 2.0f;
  const std::vector<double> p = softmax(scaled);
  ASSERT_EQ(token.top_logprobs.size(), 7u);
  double total = 0;
  for (size_t i = 0; i < token.top_logprobs.size(); ++i) {
    const TokenLogprob& t = token.top_logprobs[i];
    EXPECT_NEAR(t.logprob, std::log(p[static_cast<size_t>(t.id)]), 1e-5);
    if (i > 0) {
      EXPECT_GE(token.top_logprobs[i - 1].logprob, t.logprob);
    }
    total += std::exp(t.logprob);
  }
  EXPECT_NEAR(total, 1.0, 1e-5);
  EXPECT_NEAR(token.logprob, std::log(p[static_cast<size_t>(token.id)]), 1e-5);
  EXPECT_TRUE(token.id == 4 || token.id == 2);

  params.n_logprobs = 2;
  Sampler two(params, 7);
  const SampledToken fewer = two.sample(logits);
  ASSERT_EQ(fewer.top_logprobs.size(), 2u);
  EXPECT_EQ(fewer.top_logprobs[0].id, 4);
  EXPECT_EQ(fewer.top_logprobs[1].id, 2);
}

TEST(SamplerTest, ChosenLogprobOnlyWhenAskedFor) {
  const std::vector<float> logits{1.0f, 2.0f, 0.0f};
  SamplingParams params;
  params.temperature = 0.0f;
  Sampler plain(params, 3);
  EXPECT_TRUE(std::isnan(plain.sample(logits).logprob));
  params.logprobs = true;
  Sampler asked(params, 3);
  const SampledToken token = asked.sample(logits);
  EXPECT_EQ(token.id, 1);
  EXPECT_NEAR(token.logprob, 2.0 - std::log(std::exp(1.0) + std::exp(2.0) + 1.0), 1e-6);
  EXPECT_TRUE(token.top_logprobs.empty());
}

TEST(SamplerTest, RejectsBadParametersAndRows) {
  const auto make = [](auto mutate) {
    SamplingParams params;
    mutate(params);
    return Sampler(params, 10);
  };
  EXPECT_THROW(make([](SamplingParams& p) { p.temperature = -1; }), Error);
  EXPECT_THROW(make([](SamplingParams& p) { p.top_p = 0; }), Error);
  EXPECT_THROW(make([](SamplingParams& p) { p.min_p = 1.5f; }), Error);
  EXPECT_THROW(make([](SamplingParams& p) { p.top_k = -2; }), Error);
  EXPECT_THROW(make([](SamplingParams& p) { p.n_logprobs = 21; }), Error);
  EXPECT_THROW(make([](SamplingParams& p) { p.logit_bias = {{10, 1.0f}}; }), Error);
  EXPECT_THROW(make([](SamplingParams& p) { p.repetition_penalty = 0; }), Error);
  Sampler ok(SamplingParams{}, 10);
  EXPECT_THROW(ok.sample(std::vector<float>(9, 0.0f)), Error);
}

}  // namespace
}  // namespace tether::sampling
