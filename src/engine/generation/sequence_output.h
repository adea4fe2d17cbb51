#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "engine/generation/generation_request.h"
#include "engine/generation/stop_string_matcher.h"
#include "engine/generation/token_constraint.h"
#include "engine/model/model_config.h"
#include "engine/sampling/sampler.h"
#include "engine/tokenizer/incremental_detokenizer.h"
#include "engine/tokenizer/tokenizer.h"

namespace tether::generation {

// A request's prompt tokens and its max_tokens clamped to the context.
struct PreparedPrompt {
  std::vector<TokenId> tokens;
  int32_t max_tokens = 0;
};

// Tokenizes (unless prompt_tokens is given) and checks a request the way
// every generation path does. Throws Error(kInvalidArgument): empty prompt,
// a token outside the vocabulary, max_tokens < 1, a prompt that fills the
// model's context.
PreparedPrompt prepare_prompt(const GenerationRequest& request, const tokenizer::Tokenizer& tokenizer,
                              const model::ModelConfig& config);

// What one sequence makes of its sampled tokens: sampling state, incremental
// detokenization, stop strings, EOS/EOT and max_tokens, and the result being
// built. Shared by the Generator and the scheduler so that both end a
// sequence at exactly the same token with exactly the same text.
class SequenceOutput {
 public:
  // Validates the sampling parameters (throws Error); `tokenizer` must
  // outlive this object. Records `prompt` for the repetition penalty.
  SequenceOutput(const GenerationRequest& request, std::span<const TokenId> prompt,
                 int32_t max_tokens, int32_t n_vocab, const tokenizer::Tokenizer& tokenizer);

  // Picks the next token from a logits row (does not accept it). Under a
  // constraint, from a masked copy of the row.
  sampling::SampledToken sample(std::span<const float> logits) {
    if (!constraint_) return sampler_.sample(logits);
    return sample_constrained(logits);
  }

  // Takes a sampled token: appends it to the result and returns the text it
  // releases (possibly empty). After it, finished() says whether the
  // sequence is over (then the token is not fed back to the model).
  std::string accept(const sampling::SampledToken& sampled);

  bool finished() const { return finished_; }
  int32_t completion_tokens() const { return static_cast<int32_t>(result_.tokens.size()); }
  GenerationResult& result() { return result_; }
  const GenerationResult& result() const { return result_; }

 private:
  void finish(FinishReason reason);
  sampling::SampledToken sample_constrained(std::span<const float> logits);

  const tokenizer::Tokenizer& tokenizer_;
  int32_t max_tokens_;
  bool ignore_eos_;
  bool keep_logprobs_;
  bool finished_ = false;
  sampling::Sampler sampler_;
  tokenizer::IncrementalDetokenizer detokenizer_;
  StopStringMatcher stops_;
  GenerationResult result_;
  std::unique_ptr<TokenConstraint> constraint_;  // null: unconstrained
  std::vector<float> masked_;                    // the masked logits row
};

}  // namespace tether::generation
