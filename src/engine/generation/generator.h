#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string_view>
#include <vector>

#include "engine/generation/generation_request.h"
#include "engine/kernels/thread_pool.h"
#include "engine/model/llama_model.h"
#include "engine/tokenizer/tokenizer.h"

namespace tether::generation {

// Receives text as it is produced: `request_idx` indexes the requests given
// to generate(); `text` is whole UTF-8 characters, never part of a stop string.
using TextCallback = std::function<void(size_t request_idx, std::string_view text)>;

// Drives a model over one or many sequences: prefill in chunks, then one
// batched forward step per generated token for all live sequences, sampling
// each with its own Sampler. KV blocks come from a per-call storage sized for
// every sequence's prompt + max_tokens (the paged pool replaces this later).
class Generator {
 public:
  struct Options {
    int32_t block_tokens = 16;
    // Most tokens one forward call takes: bounds the activation scratch
    // (long prompts are prefilled in chunks of this size).
    int32_t max_step_tokens = 256;
  };

  // `model`, `tokenizer` and `pool` must outlive the generator.
  Generator(model::LlamaModel& model, const tokenizer::Tokenizer& tokenizer,
            kernels::ThreadPool& pool, Options options);
  Generator(model::LlamaModel& model, const tokenizer::Tokenizer& tokenizer,
            kernels::ThreadPool& pool)
      : Generator(model, tokenizer, pool, Options{}) {}

  // Runs every request to completion; results are in request order. Throws
  // Error(kInvalidArgument) before any compute for a bad request (empty
  // prompt, max_tokens < 1, a prompt longer than the context, bad sampling
  // parameters).
  std::vector<GenerationResult> generate(std::span<const GenerationRequest> requests,
                                         const TextCallback& on_text = {});

  // Bytes of the KV storage the last generate() call used.
  size_t last_kv_bytes() const { return last_kv_bytes_; }

 private:
  model::LlamaModel& model_;
  const tokenizer::Tokenizer& tokenizer_;
  kernels::ThreadPool& pool_;
  Options options_;
  model::ForwardOutput output_;
  size_t last_kv_bytes_ = 0;
};

}  // namespace tether::generation
