#pragma once

#include <array>
#include <string_view>
#include <vector>

#include "engine/tokenizer/token_id.h"
#include "engine/tokenizer/vocab.h"

namespace tether::tokenizer {

// SentencePiece BPE as llama.cpp runs it: the text (spaces escaped to U+2581)
// starts as one symbol per UTF-8 character; the adjacent pair whose
// concatenation is the highest-scoring token is merged (leftmost on ties)
// until no pair forms a token. Symbols that are not tokens fall back to
// their bytes' <0xXX> tokens.
class SpmTokenizer {
 public:
  // `vocab` must outlive this tokenizer.
  explicit SpmTokenizer(const Vocab& vocab);

  // Appends the ids of `text` (raw: this escapes spaces; the caller adds the
  // space prefix when one is due).
  void encode(std::string_view text, std::vector<TokenId>& out) const;

  // The token for one byte (<0xXX>, else the one-character token), or kNoToken.
  TokenId byte_token(uint8_t byte) const { return byte_tokens_[byte]; }

  // Whether words (text before each ▁ that follows a non-▁ character) can be
  // merged independently: true when no token holds ▁ after another character,
  // so no token can span such a boundary and the result is the same as
  // merging the whole text at once, only faster.
  bool merges_words_independently() const { return words_independent_; }

 private:
  const Vocab* vocab_;
  std::array<TokenId, 256> byte_tokens_{};
  bool words_independent_ = false;
};

}  // namespace tether::tokenizer
