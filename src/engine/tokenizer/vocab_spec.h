#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace tether::tokenizer {

// The raw tokenizer description, as a GGUF file's `tokenizer.ggml.*` keys
// hold it (absent keys stay empty / nullopt). Vocab validates it and fills in
// the defaults; tests build one by hand.
struct VocabSpec {
  std::string model;                 // tokenizer.ggml.model: "llama" or "gpt2"
  std::string pre;                   // tokenizer.ggml.pre (BPE); empty → "default"
  std::vector<std::string> tokens;   // tokenizer.ggml.tokens
  std::vector<float> scores;         // tokenizer.ggml.scores; empty → all 0
  std::vector<int32_t> token_types;  // tokenizer.ggml.token_type; empty → all normal
  std::vector<std::string> merges;   // tokenizer.ggml.merges ("left right"), BPE only
  bool has_merges = false;           // whether the merges key was present at all

  std::optional<int64_t> bos_id;
  std::optional<int64_t> eos_id;
  std::optional<int64_t> eot_id;
  std::optional<int64_t> unk_id;
  std::optional<int64_t> pad_id;
  std::optional<bool> add_bos;
  std::optional<bool> add_eos;
  std::optional<bool> add_space_prefix;

  std::string model_name;  // general.name; a few families get per-name token flags
};

}  // namespace tether::tokenizer
