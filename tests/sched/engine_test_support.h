#pragma once

// A tiny seeded model and helpers shared by the engine tests.

#include <memory>
#include <string>
#include <vector>

#include "common/split_mix64.h"
#include "engine/generation/generator.h"
#include "engine/gguf/gguf_file.h"
#include "engine/kernels/thread_pool.h"
#include "engine/model/llama_model.h"
#include "engine/model/model_maker.h"
#include "engine/model/model_shape.h"
#include "engine/tokenizer/tokenizer.h"
#include "sched/engine.h"

namespace tether::sched::testing {

inline std::shared_ptr<const gguf::GgufFile> tiny_model_file() {
  static const std::shared_ptr<const gguf::GgufFile> file = [] {
    model::MakeModelOptions options;
    options.shape = model::model_shape_preset("tiny");
    options.shape.ffn = 512;
    options.type = TensorType::kQ8_0;
    options.seed = 5;
    options.threads = 1;
    return std::make_shared<const gguf::GgufFile>(
        gguf::GgufFile::from_bytes(model::ModelMaker(options).write_to_memory(), "tiny"));
  }();
  return file;
}

inline std::shared_ptr<const tokenizer::Tokenizer> tiny_tokenizer() {
  static const auto tokenizer =
      std::make_shared<const tokenizer::Tokenizer>(tokenizer::Tokenizer::from_gguf(*tiny_model_file()));
  return tokenizer;
}

inline std::shared_ptr<model::LlamaModel> load_tiny_model() {
  return std::make_shared<model::LlamaModel>(model::LlamaModel::load(tiny_model_file()));
}

// Bytes of `blocks` KV blocks of the tiny model.
inline size_t kv_bytes_for_blocks(int32_t blocks, int32_t block_tokens) {
  return static_cast<size_t>(blocks) * kv::kv_block_bytes(load_tiny_model()->kv_shape(block_tokens));
}

inline generation::GenerationRequest greedy_tokens(std::vector<tokenizer::TokenId> prompt, int32_t max_tokens) {
  generation::GenerationRequest request;
  request.prompt_tokens = std::move(prompt);
  request.max_tokens = max_tokens;
  request.sampling.temperature = 0.0f;
  request.sampling.ignore_eos = true;
  return request;
}

inline Request make_request(generation::GenerationRequest generation,
                            Priority priority = Priority::kInteractive, std::string salt = {}) {
  Request request;
  request.generation = std::move(generation);
  request.cache_salt = std::move(salt);
  request.priority = priority;
  return request;
}

// A one-thread engine of `blocks` blocks that checks its invariants every step.
inline EngineOptions small_options(int32_t block_tokens, int32_t blocks) {
  EngineOptions options;
  options.block_tokens = block_tokens;
  options.kv_memory_bytes = kv_bytes_for_blocks(blocks, block_tokens);
  options.threads = 1;
  options.check_invariants = true;
  return options;
}

inline std::vector<tokenizer::TokenId> random_tokens(SplitMix64& rng, int n) {
  std::vector<tokenizer::TokenId> tokens;
  for (int i = 0; i < n; ++i) tokens.push_back(static_cast<tokenizer::TokenId>(10 + rng.next() % 400));
  return tokens;
}

inline std::vector<tokenizer::TokenId> concat(std::vector<tokenizer::TokenId> a,
                                              const std::vector<tokenizer::TokenId>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// What the plain Generator (no paging, no cache, no scheduler) makes of the
// requests: the reference every engine run must reproduce.
inline std::vector<generation::GenerationResult> reference_results(
    const std::vector<generation::GenerationRequest>& requests) {
  model::LlamaModel model = model::LlamaModel::load(tiny_model_file());
  kernels::ThreadPool pool(1);
  generation::Generator generator(model, *tiny_tokenizer(), pool);
  return generator.generate(requests);
}

}  // namespace tether::sched::testing
