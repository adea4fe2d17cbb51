#pragma once

#include <cstdint>
#include <deque>
#include <limits>
#include <span>
#include <unordered_map>
#include <vector>

#include "engine/sampling/random_generator.h"
#include "engine/sampling/sampling_params.h"

namespace tether::sampling {

struct TokenLogprob {
  TokenId id = tokenizer::kNoToken;
  float logprob = 0.0f;
};

struct SampledToken {
  TokenId id = tokenizer::kNoToken;
  // Log-probabilities come from the softmax over the whole vocabulary of the
  // processed logits (penalties, bias and temperature applied, truncations
  // not), as OpenAI reports them; greedy uses temperature 1. NaN unless
  // logprobs or n_logprobs was asked for.
  float logprob = std::numeric_limits<float>::quiet_NaN();
  std::vector<TokenLogprob> top_logprobs;  // n_logprobs best, most likely first
};

// Picks one sequence's tokens. Owns the sequence's seeded random stream and
// the token history the penalties need, so the same seed and logits give the
// same tokens whatever the thread count or batch. Not thread-safe.
class Sampler {
 public:
  // Validates `params` (throws Error).
  Sampler(SamplingParams params, int32_t n_vocab);

  // Records prompt tokens: they count for the repetition penalty only.
  void add_prompt(std::span<const TokenId> tokens);

  // Chooses the next token from one logits row (n_vocab floats). Does not
  // record it: call accept() with the token the sequence actually continues
  // with. Throws Error if the row's size is wrong or every token is banned.
  SampledToken sample(std::span<const float> logits);

  // Records a generated token (repetition window and frequency counts).
  void accept(TokenId id);

  const SamplingParams& params() const { return params_; }

 private:
  struct Candidate {
    TokenId id;
    float logit;
  };

  void apply_penalties_and_bias();
  void remember(TokenId id);
  TokenId draw(std::vector<Candidate>& candidates, float max_logit);
  std::vector<TokenLogprob> top_logprobs(float log_sum_exp);

  SamplingParams params_;
  int32_t n_vocab_;
  RandomGenerator rng_;
  std::deque<TokenId> window_;                        // last repetition_last_n tokens
  std::unordered_map<TokenId, int32_t> window_counts_;  // distinct tokens of window_
  std::unordered_map<TokenId, int32_t> generated_counts_;
  std::vector<float> work_;  // processed logits, reused per call
  std::vector<Candidate> candidates_;
};

}  // namespace tether::sampling
