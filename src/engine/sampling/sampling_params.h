#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "engine/tokenizer/token_id.h"

namespace tether::sampling {

using tokenizer::TokenId;

// How one sequence picks its next token. Processing order: repetition,
// frequency and presence penalties, logit bias, temperature, then the
// truncations top-k, top-p (relative to the top-k survivors) and min-p
// (relative to the most likely token); the draw is over what survives.
struct SamplingParams {
  float temperature = 1.0f;  // 0 = greedy (argmax, ties to the lowest id)
  int32_t top_k = 0;         // keep the k most likely; 0 = off
  float top_p = 1.0f;        // keep the smallest prefix with mass >= p; 1 = off
  float min_p = 0.0f;        // keep p >= min_p * p_max; 0 = off
  // llama-style: logits of tokens among the last `repetition_last_n` (prompt
  // included) are divided by it when positive, multiplied when negative.
  float repetition_penalty = 1.0f;  // 1 = off
  int32_t repetition_last_n = 64;   // 0 = off, -1 = the whole sequence
  // OpenAI-style, over generated tokens: logit -= count * frequency + (count > 0) * presence.
  float frequency_penalty = 0.0f;
  float presence_penalty = 0.0f;
  // Added to a token's logit; -infinity bans it.
  std::vector<std::pair<TokenId, float>> logit_bias;
  uint64_t seed = 0;
  // Report the chosen token's log-probability (costs a pass over the
  // vocabulary); n_logprobs > 0 implies it.
  bool logprobs = false;
  int32_t n_logprobs = 0;   // top alternatives reported per token (0..20)
  bool ignore_eos = false;  // keep generating past end-of-generation tokens
};

// Throws Error(kInvalidArgument) naming the first out-of-range field;
// `n_vocab` bounds the logit-bias ids.
void validate(const SamplingParams& params, int32_t n_vocab);

}  // namespace tether::sampling
