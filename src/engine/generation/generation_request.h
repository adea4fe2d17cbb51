#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/generation/token_constraint.h"
#include "engine/sampling/sampler.h"
#include "engine/sampling/sampling_params.h"
#include "engine/tokenizer/token_id.h"

namespace tether::generation {

using tokenizer::TokenId;

// One sequence to generate.
struct GenerationRequest {
  std::string prompt;                  // tokenized unless prompt_tokens is set
  std::vector<TokenId> prompt_tokens;  // used as is when non-empty
  bool add_special = true;             // BOS as the vocabulary says (text prompts)
  bool parse_special = false;          // control-token texts in the prompt become tokens
  int32_t max_tokens = 128;            // >= 1; clamped to the model's context
  std::vector<std::string> stop;       // stop strings (not part of the output)
  sampling::SamplingParams sampling;
  // Grammar-constrained decoding (structured outputs, forced tool calls):
  // when set, only tokens the constraint allows are sampled and the
  // sequence stops ("stop") once the constraint is complete and cannot go
  // on, or an end token is sampled where it is complete.
  std::shared_ptr<const TokenConstraintFactory> constraint;
};

enum class FinishReason { kStop, kLength };

// "stop" / "length", as OpenAI names them.
std::string_view finish_reason_name(FinishReason reason);

struct GenerationUsage {
  int32_t prompt_tokens = 0;
  int32_t completion_tokens = 0;
  double ttft_ms = 0;     // start of generate() to this sequence's first token
  double prefill_ms = 0;  // first to last forward step over its prompt
  double decode_ms = 0;   // first token to the last
};

struct GenerationResult {
  std::string text;                  // as streamed: stop string excluded
  std::vector<TokenId> tokens;       // every sampled token, stop/EOS included
  std::vector<sampling::SampledToken> logprobs;  // per token, when logprobs or n_logprobs asked
  FinishReason finish_reason = FinishReason::kLength;
  std::string stop_string;           // the stop string that ended it, if any
  GenerationUsage usage;
};

}  // namespace tether::generation
