#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "engine/tokenizer/merge_table.h"
#include "engine/tokenizer/pre_tokenizer.h"
#include "engine/tokenizer/token_id.h"
#include "engine/tokenizer/vocab.h"

namespace tether::tokenizer {

// Byte-level BPE (GPT-2 style): the pre-tokenizer cuts text into words; each
// word's bytes become GPT-2 byte symbols, and the adjacent pair with the
// lowest merge rank is merged (leftmost on ties) until no rule applies.
//
// Merging works on integer symbol ids, not strings: ids below n_tokens are
// the vocabulary's tokens, ids above name the few merge parts that are not
// tokens themselves, so every rule is a (left, right) → (rank, result) lookup.
class BpeTokenizer {
 public:
  // `vocab` (a byte-level BPE vocabulary) must outlive this tokenizer.
  // Throws Error for an unknown pre-tokenizer type.
  explicit BpeTokenizer(const Vocab& vocab);

  // Appends the ids of `text`. Invalid UTF-8 is replaced by U+FFFD first.
  void encode(std::string_view text, std::vector<TokenId>& out) const;

  const PreTokenizer& pre_tokenizer() const { return pre_tokenizer_; }

 private:
  struct Scratch;

  int32_t intern_symbol(const std::string& text,
                        std::unordered_map<std::string, int32_t>& extra_ids);
  void encode_word(std::string_view word, Scratch& scratch, std::vector<TokenId>& out) const;
  void emit_symbol(int32_t symbol, std::vector<TokenId>& out) const;

  const Vocab* vocab_;
  PreTokenizer pre_tokenizer_;
  std::vector<std::string> extra_symbol_texts_;  // symbol id n_tokens + i
  std::array<int32_t, 256> byte_symbols_{};
  MergeTable merges_;
};

}  // namespace tether::tokenizer
