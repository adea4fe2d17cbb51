#include "engine/generation/sequence_output.h"

#include <algorithm>

#include "common/error.h"

namespace tether::generation {

PreparedPrompt prepare_prompt(const GenerationRequest& request, const tokenizer::Tokenizer& tokenizer,
                              const model::ModelConfig& config) {
  PreparedPrompt prepared;
  prepared.tokens = !request.prompt_tokens.empty()
                        ? request.prompt_tokens
                        : tokenizer.encode(request.prompt, {.add_special = request.add_special,
                                                            .parse_special = request.parse_special});
  if (prepared.tokens.empty()) throw_error(ErrorCode::kInvalidArgument, "the prompt has no tokens");
  const int32_t n_vocab = config.vocab_size;
  for (const TokenId id : prepared.tokens) {
    if (id < 0 || id >= n_vocab) {
      throw_error(ErrorCode::kInvalidArgument, "prompt token {} is outside the vocabulary (0..{})", id,
                  n_vocab - 1);
    }
  }
  if (request.max_tokens < 1) {
    throw_error(ErrorCode::kInvalidArgument, "max_tokens must be >= 1, got {}", request.max_tokens);
  }
  const auto n_prompt = static_cast<int32_t>(prepared.tokens.size());
  prepared.max_tokens = request.max_tokens;
  if (config.context_length > 0) {
    if (n_prompt >= config.context_length) {
      throw_error(ErrorCode::kInvalidArgument, "the prompt has {} tokens; the model's context holds {}",
                  n_prompt, config.context_length);
    }
    prepared.max_tokens = std::min(prepared.max_tokens, config.context_length - n_prompt);
  }
  return prepared;
}

SequenceOutput::SequenceOutput(const GenerationRequest& request, std::span<const TokenId> prompt,
                               int32_t max_tokens, int32_t n_vocab,
                               const tokenizer::Tokenizer& tokenizer)
    : tokenizer_(tokenizer),
      max_tokens_(max_tokens),
      ignore_eos_(request.sampling.ignore_eos),
      keep_logprobs_(request.sampling.logprobs || request.sampling.n_logprobs > 0),
      sampler_(request.sampling, n_vocab),
      detokenizer_(tokenizer),
      stops_(request.stop) {
  sampler_.add_prompt(prompt);
  result_.usage.prompt_tokens = static_cast<int32_t>(prompt.size());
  if (request.constraint) constraint_ = request.constraint->start();
}

sampling::SampledToken SequenceOutput::sample_constrained(std::span<const float> logits) {
  masked_.assign(logits.begin(), logits.end());
  constraint_->set_remaining(max_tokens_ - completion_tokens());
  constraint_->apply(masked_);
  return sampler_.sample(masked_);
}

void SequenceOutput::finish(FinishReason reason) {
  finished_ = true;
  result_.finish_reason = reason;
}

std::string SequenceOutput::accept(const sampling::SampledToken& sampled) {
  if (finished_) throw_error(ErrorCode::kInternal, "sequence output: a token after the end");
  const TokenId id = sampled.id;
  sampler_.accept(id);
  result_.tokens.push_back(id);
  if (keep_logprobs_) result_.logprobs.push_back(sampled);
  result_.usage.completion_tokens = static_cast<int32_t>(result_.tokens.size());
  std::string released;
  const auto emit = [&](std::string_view text) {
    released.append(text);
    result_.text.append(text);
  };
  // Under a constraint an end token is only ever allowed where the output
  // is complete, and ends the sequence even with ignore_eos (nothing may
  // follow a complete match that cannot go on).
  bool constraint_done = false;
  if (constraint_) {
    constraint_->accept(id);
    constraint_done = !constraint_->can_continue();
  }
  if (tokenizer_.is_eog(id) && (!ignore_eos_ || constraint_)) {
    emit(stops_.push(detokenizer_.flush()).text);
    emit(stops_.flush());
    finish(FinishReason::kStop);
    return released;
  }
  StopStringMatcher::Result out = stops_.push(detokenizer_.push(id));
  emit(out.text);
  if (out.stopped) {
    result_.stop_string = std::move(out.matched);
    finish(FinishReason::kStop);
    return released;
  }
  if (constraint_done) {
    StopStringMatcher::Result tail = stops_.push(detokenizer_.flush());
    emit(tail.text);
    if (tail.stopped) result_.stop_string = std::move(tail.matched);
    if (!tail.stopped) emit(stops_.flush());
    finish(FinishReason::kStop);
    return released;
  }
  if (result_.usage.completion_tokens >= max_tokens_) {
    StopStringMatcher::Result tail = stops_.push(detokenizer_.flush());
    emit(tail.text);
    if (tail.stopped) {
      result_.stop_string = std::move(tail.matched);
      finish(FinishReason::kStop);
      return released;
    }
    emit(stops_.flush());
    finish(FinishReason::kLength);
  }
  return released;
}

}  // namespace tether::generation
