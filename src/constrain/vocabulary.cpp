#include "constrain/vocabulary.h"

#include <algorithm>

#include "common/error.h"
#include "engine/tokenizer/tokenizer.h"

namespace tether::constrain {

int32_t plain_string_chars(const std::string& text) {
  int32_t chars = 0;
  size_t i = 0;
  while (i < text.size()) {
    const auto b = static_cast<uint8_t>(text[i]);
    if (b < 0x80) {
      if (b < 0x20 || b == '"' || b == '\\') return -1;
      ++i;
    } else {
      size_t extra = 0;
      uint8_t lo = 0x80;
      uint8_t hi = 0xBF;
      if (b >= 0xC2 && b <= 0xDF) {
        extra = 1;
      } else if (b >= 0xE0 && b <= 0xEF) {
        extra = 2;
        if (b == 0xE0) lo = 0xA0;
        if (b == 0xED) hi = 0x9F;
      } else if (b >= 0xF0 && b <= 0xF4) {
        extra = 3;
        if (b == 0xF0) lo = 0x90;
        if (b == 0xF4) hi = 0x8F;
      } else {
        return -1;
      }
      if (i + extra >= text.size()) return -1;  // ends inside a character
      for (size_t k = 1; k <= extra; ++k) {
        const auto c = static_cast<uint8_t>(text[i + k]);
        const uint8_t min = k == 1 ? lo : 0x80;
        const uint8_t max = k == 1 ? hi : 0xBF;
        if (c < min || c > max) return -1;
      }
      i += extra + 1;
    }
    ++chars;
  }
  return chars;
}

Vocabulary::Vocabulary(const tokenizer::Tokenizer& tokenizer) {
  const int32_t n = tokenizer.n_vocab();
  pieces_.reserve(static_cast<size_t>(n));
  for (TokenId id = 0; id < n; ++id) {
    pieces_.push_back(tokenizer.token_to_piece(id));
    if (tokenizer.is_eog(id)) end_tokens_.push_back(id);
  }
  index();
}

Vocabulary::Vocabulary(std::vector<std::string> pieces, std::vector<TokenId> end_tokens)
    : pieces_(std::move(pieces)), end_tokens_(std::move(end_tokens)) {
  for (const TokenId id : end_tokens_) {
    if (id < 0 || static_cast<size_t>(id) >= pieces_.size()) {
      throw_error(ErrorCode::kInvalidArgument, "vocabulary: end token {} is outside 0..{}", id,
                  static_cast<int64_t>(pieces_.size()) - 1);
    }
  }
  index();
}

void Vocabulary::index() {
  is_end_.assign(pieces_.size(), 0);
  for (const TokenId id : end_tokens_) {
    is_end_[static_cast<size_t>(id)] = 1;
    pieces_[static_cast<size_t>(id)].clear();  // an end token never stands for text
  }
  plain_upto_.assign(kMaxPlainChars + 1, std::vector<uint64_t>(mask_words(), 0));
  std::vector<TokenId> with_text;
  std::vector<TokenId> non_plain;
  for (size_t id = 0; id < pieces_.size(); ++id) {
    const std::string& text = pieces_[id];
    if (text.empty() || text.size() > kMaxTokenBytes) continue;
    with_text.push_back(static_cast<TokenId>(id));
    const int32_t chars = plain_string_chars(text);
    if (chars < 0 || chars > kMaxPlainChars) {
      non_plain.push_back(static_cast<TokenId>(id));
      continue;
    }
    ++n_plain_;
    for (int32_t k = chars; k <= kMaxPlainChars; ++k) plain_upto_[k][id / 64] |= uint64_t{1} << (id % 64);
  }
  trie_ = TokenTrie(pieces_, std::move(with_text));
  non_plain_trie_ = TokenTrie(pieces_, std::move(non_plain));
}

const std::vector<uint64_t>& Vocabulary::plain_upto(int32_t chars) const {
  return plain_upto_[static_cast<size_t>(std::clamp(chars, 0, kMaxPlainChars))];
}

}  // namespace tether::constrain
