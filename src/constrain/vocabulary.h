#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "constrain/token_trie.h"
#include "engine/tokenizer/token_id.h"

namespace tether::tokenizer {
class Tokenizer;
}

namespace tether::constrain {

// What constrained decoding needs to know about a vocabulary, computed once
// per model and shared by every request:
// - each token's text as the output receives it (token_to_piece without
//   special rendering). Control and unknown tokens have no text there, so
//   they are never allowed by a grammar (a literal "<|im_end|>" must be
//   spelled by ordinary tokens, and then the output text does contain it);
//   end tokens (EOS/EOT, `is_eog`) are allowed exactly where the grammar is
//   complete. Texts longer than kMaxTokenBytes are never allowed.
// - a byte trie of all tokens with text;
// - "plain string" tokens: texts of complete UTF-8 characters none of which
//   is `"`, `\` or a control character, i.e. tokens that stay inside a JSON
//   string. Inside a string their mask is a precomputed bitmap (by the
//   number of characters, for maxLength), and only the other tokens need a
//   walk of their own (smaller) trie.
class Vocabulary {
 public:
  static constexpr size_t kMaxTokenBytes = 256;
  // Plain tokens of more characters than this count as special.
  static constexpr int32_t kMaxPlainChars = 32;

  explicit Vocabulary(const tokenizer::Tokenizer& tokenizer);
  // pieces[id] is token id's text ("": never allowed); end_tokens are the
  // EOS/EOT ids. Throws Error(kInvalidArgument) for an end id out of range.
  Vocabulary(std::vector<std::string> pieces, std::vector<TokenId> end_tokens);

  int32_t n_tokens() const { return static_cast<int32_t>(pieces_.size()); }
  const std::string& piece(TokenId id) const { return pieces_[static_cast<size_t>(id)]; }
  bool is_end(TokenId id) const { return is_end_[static_cast<size_t>(id)] != 0; }
  const std::vector<TokenId>& end_tokens() const { return end_tokens_; }

  const TokenTrie& trie() const { return trie_; }
  const TokenTrie& non_plain_trie() const { return non_plain_trie_; }
  // Bitmap (64 tokens a word) of the plain tokens of at most `chars`
  // characters (chars clamped to 0..kMaxPlainChars).
  const std::vector<uint64_t>& plain_upto(int32_t chars) const;
  size_t mask_words() const { return (pieces_.size() + 63) / 64; }
  size_t n_plain() const { return n_plain_; }

 private:
  void index();

  std::vector<std::string> pieces_;
  std::vector<TokenId> end_tokens_;
  std::vector<uint8_t> is_end_;
  TokenTrie trie_;
  TokenTrie non_plain_trie_;
  std::vector<std::vector<uint64_t>> plain_upto_;
  size_t n_plain_ = 0;
};

// The number of characters of `text` if it consists of complete UTF-8
// characters, none of them `"`, `\` or below U+0020; -1 otherwise.
int32_t plain_string_chars(const std::string& text);

}  // namespace tether::constrain
