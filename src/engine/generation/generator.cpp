#include "engine/generation/generator.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>

#include "common/error.h"
#include "engine/generation/sequence_output.h"
#include "kv/kv_block_storage.h"

namespace tether::generation {

std::string_view finish_reason_name(FinishReason reason) {
  return reason == FinishReason::kStop ? "stop" : "length";
}

namespace {

using Clock = std::chrono::steady_clock;

double ms_between(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double, std::milli>(to - from).count();
}

// One request's state while it runs.
struct Sequence {
  Sequence(size_t request_idx, const GenerationRequest& request, PreparedPrompt prompt,
           int32_t n_vocab, const tokenizer::Tokenizer& tokenizer)
      : request_idx(request_idx),
        tokens(std::move(prompt.tokens)),
        n_prompt(static_cast<int32_t>(tokens.size())),
        max_tokens(prompt.max_tokens),
        output(request, tokens, max_tokens, n_vocab, tokenizer) {}

  size_t request_idx;
  std::vector<TokenId> tokens;  // prompt, then every generated token but the last
  int32_t n_prompt;
  int32_t n_stored = 0;  // positions whose K/V is in the storage
  int32_t max_tokens;
  bool done = false;
  std::vector<kv::BlockId> blocks;
  SequenceOutput output;
  std::optional<Clock::time_point> prefill_start;
  Clock::time_point first_token_at;
};

}  // namespace

Generator::Generator(model::LlamaModel& model, const tokenizer::Tokenizer& tokenizer,
                     kernels::ThreadPool& pool, Options options)
    : model_(model), tokenizer_(tokenizer), pool_(pool), options_(options) {
  if (options_.block_tokens < 1 || options_.max_step_tokens < 1) {
    throw_error(ErrorCode::kInvalidArgument, "generator block_tokens and max_step_tokens must be >= 1");
  }
}

std::vector<GenerationResult> Generator::generate(std::span<const GenerationRequest> requests,
                                                  const TextCallback& on_text) {
  const Clock::time_point start = Clock::now();
  const model::ModelConfig& config = model_.config();
  const int32_t n_vocab = config.vocab_size;

  // Everything is checked before any compute or allocation.
  std::vector<std::unique_ptr<Sequence>> sequences;
  int64_t n_blocks = 0;
  for (size_t idx = 0; idx < requests.size(); ++idx) {
    const GenerationRequest& request = requests[idx];
    PreparedPrompt prompt;
    try {
      prompt = prepare_prompt(request, tokenizer_, config);
    } catch (const Error& error) {
      throw_error(error.code(), "request {}: {}", idx, error.what());
    }
    const auto n_prompt = static_cast<int32_t>(prompt.tokens.size());
    const int32_t max_tokens = prompt.max_tokens;
    auto seq = std::make_unique<Sequence>(idx, request, std::move(prompt), n_vocab, tokenizer_);
    // The last sampled token is never fed back, so it needs no position.
    const int64_t positions = static_cast<int64_t>(n_prompt) + max_tokens - 1;
    n_blocks += (positions + options_.block_tokens - 1) / options_.block_tokens;
    sequences.push_back(std::move(seq));
  }
  if (sequences.empty()) return {};
  if (n_blocks > INT32_MAX) throw_error(ErrorCode::kInvalidArgument, "the requests need too many KV blocks");

  kv::KvBlockStorage storage(model_.kv_shape(options_.block_tokens), static_cast<int32_t>(n_blocks));
  last_kv_bytes_ = storage.bytes();
  std::vector<kv::BlockId> free_blocks;
  free_blocks.reserve(static_cast<size_t>(n_blocks));
  for (int32_t b = static_cast<int32_t>(n_blocks) - 1; b >= 0; --b) free_blocks.push_back(kv::BlockId{b});
  for (auto& seq : sequences) {
    const int64_t positions = static_cast<int64_t>(seq->n_prompt) + seq->max_tokens - 1;
    const int64_t needed = (positions + options_.block_tokens - 1) / options_.block_tokens;
    for (int64_t i = 0; i < needed; ++i) {
      seq->blocks.push_back(free_blocks.back());
      free_blocks.pop_back();
    }
  }

  const auto accept_token = [&](Sequence& seq, const sampling::SampledToken& sampled) {
    const std::string text = seq.output.accept(sampled);
    const Clock::time_point now = Clock::now();
    GenerationResult& result = seq.output.result();
    if (result.usage.completion_tokens == 1) {
      seq.first_token_at = now;
      result.usage.ttft_ms = ms_between(start, now);
      result.usage.prefill_ms = ms_between(*seq.prefill_start, now);
    }
    if (!text.empty() && on_text) on_text(seq.request_idx, text);
    if (seq.output.finished()) {
      seq.done = true;
      result.usage.decode_ms = ms_between(seq.first_token_at, now);
      free_blocks.insert(free_blocks.end(), seq.blocks.begin(), seq.blocks.end());
      seq.blocks.clear();
      return;
    }
    seq.tokens.push_back(sampled.id);
  };

  std::vector<model::SequenceInput> batch;
  std::vector<Sequence*> in_batch;
  std::vector<bool> wants_logits;
  while (true) {
    // Pack the step: every live sequence feeds what it has not stored yet,
    // up to the step's token budget (a long prompt continues next step).
    batch.clear();
    in_batch.clear();
    wants_logits.clear();
    int64_t budget = options_.max_step_tokens;
    const Clock::time_point step_start = Clock::now();
    for (auto& seq : sequences) {
      if (seq->done || budget == 0) continue;
      const auto pending = static_cast<int64_t>(seq->tokens.size()) - seq->n_stored;
      const int64_t take = std::min(pending, budget);
      budget -= take;
      if (!seq->prefill_start) seq->prefill_start = step_start;
      batch.push_back({.tokens = std::span<const TokenId>(seq->tokens).subspan(
                           static_cast<size_t>(seq->n_stored), static_cast<size_t>(take)),
                       .start_pos = seq->n_stored,
                       .block_table = seq->blocks,
                       .all_logits = false});
      in_batch.push_back(seq.get());
      wants_logits.push_back(take == pending);
    }
    if (batch.empty()) break;
    model_.forward(batch, storage, output_, pool_);
    for (size_t i = 0; i < batch.size(); ++i) {
      Sequence& seq = *in_batch[i];
      seq.n_stored += static_cast<int32_t>(batch[i].tokens.size());
      if (!wants_logits[i]) continue;
      accept_token(seq, seq.output.sample(output_.last(static_cast<int32_t>(i))));
    }
  }

  std::vector<GenerationResult> results;
  results.reserve(sequences.size());
  for (auto& seq : sequences) results.push_back(std::move(seq->output.result()));
  return results;
}

}  // namespace tether::generation
