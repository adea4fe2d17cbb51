#include "engine/tokenizer/spm_tokenizer.h"

#include <cstdint>
#include <algorithm>
#include <string>

#include <fmt/format.h>

#include "common/error.h"
#include "engine/tokenizer/unicode.h"

namespace tether::tokenizer {
namespace {

constexpr std::string_view kEscapedSpace = "\xE2\x96\x81";  // U+2581

struct Bigram {
  float score;
  int32_t left;
  int32_t right;
  uint32_t length;  // the pair's length when queued; a mismatch marks it stale
};

// Highest score first; among equal scores the leftmost pair.
struct BigramOrder {
  bool operator()(const Bigram& a, const Bigram& b) const {
    return a.score < b.score || (a.score == b.score && a.left > b.left);
  }
};

std::string escape_spaces(std::string_view text) {
  std::string escaped;
  escaped.reserve(text.size() + text.size() / 4);
  for (char c : text) {
    if (c == ' ') {
      escaped.append(kEscapedSpace);
    } else {
      escaped.push_back(c);
    }
  }
  return escaped;
}

struct Symbol {
  uint32_t begin;
  uint32_t length;  // 0 once merged into its left neighbour
  int32_t prev;
  int32_t next;
};

// Runs the merges over symbols [first, last), linking them into a chain that
// starts at `first`. `heap` is scratch space reused between calls.
void merge_range(const Vocab& vocab, std::string_view text, std::vector<Symbol>& symbols,
                 int32_t first, int32_t last, std::vector<Bigram>& heap) {
  for (int32_t i = first; i < last; ++i) {
    symbols[static_cast<size_t>(i)].prev = i == first ? -1 : i - 1;
    symbols[static_cast<size_t>(i)].next = i + 1 == last ? -1 : i + 1;
  }
  heap.clear();
  auto try_add_bigram = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    const Symbol& a = symbols[static_cast<size_t>(left)];
    const Symbol& b = symbols[static_cast<size_t>(right)];
    const uint32_t length = a.length + b.length;
    const TokenId id = vocab.find(text.substr(a.begin, length));
    if (id == kNoToken) return;
    heap.push_back({vocab.score(id), left, right, length});
    std::push_heap(heap.begin(), heap.end(), BigramOrder{});
  };
  for (int32_t i = first + 1; i < last; ++i) try_add_bigram(i - 1, i);

  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), BigramOrder{});
    const Bigram bigram = heap.back();
    heap.pop_back();
    Symbol& left = symbols[static_cast<size_t>(bigram.left)];
    Symbol& right = symbols[static_cast<size_t>(bigram.right)];
    // Either side changed since this pair was queued: skip it.
    if (left.length == 0 || right.length == 0 || left.length + right.length != bigram.length) {
      continue;
    }
    left.length += right.length;
    right.length = 0;
    left.next = right.next;
    if (right.next >= 0) symbols[static_cast<size_t>(right.next)].prev = bigram.left;
    try_add_bigram(left.prev, bigram.left);
    try_add_bigram(bigram.left, left.next);
  }
}

}  // namespace

SpmTokenizer::SpmTokenizer(const Vocab& vocab) : vocab_(&vocab) {
  for (int byte = 0; byte < 256; ++byte) {
    TokenId id = vocab.find(fmt::format("<0x{:02X}>", byte));
    if (id == kNoToken) id = vocab.find(std::string(1, static_cast<char>(byte)));
    byte_tokens_[static_cast<size_t>(byte)] = id;
  }
  words_independent_ = true;
  for (TokenId id = 0; id < vocab.n_tokens() && words_independent_; ++id) {
    const std::string& text = vocab.text(id);
    // A token that is not valid UTF-8 can never be formed from valid text.
    if (!unicode::is_valid_utf8(text)) continue;
    for (size_t pos = text.find(kEscapedSpace, 1); pos != std::string::npos;
         pos = text.find(kEscapedSpace, pos + 1)) {
      if (pos < kEscapedSpace.size() ||
          text.compare(pos - kEscapedSpace.size(), kEscapedSpace.size(), kEscapedSpace) != 0) {
        words_independent_ = false;
        break;
      }
    }
  }
}

void SpmTokenizer::encode(std::string_view raw_text, std::vector<TokenId>& out) const {
  const std::string text = escape_spaces(raw_text);
  if (text.empty()) return;
  if (text.size() > static_cast<size_t>(INT32_MAX)) {
    throw_error(ErrorCode::kInvalidArgument, "text of {} bytes is too long to tokenize", text.size());
  }

  std::vector<Symbol> symbols;
  symbols.reserve(text.size());
  // One symbol per character; a byte that starts no valid character is a
  // symbol of its own. (llama.cpp chunks by lead byte alone, which on invalid
  // input can swallow the start of a following ▁ and lose the space; on valid
  // UTF-8 both chunkings are the same.)
  for (size_t offset = 0; offset < text.size();) {
    uint32_t codepoint = 0;
    const size_t length = std::max<size_t>(unicode::decode_one(text, offset, &codepoint), 1);
    symbols.push_back({static_cast<uint32_t>(offset), static_cast<uint32_t>(length), -1, -1});
    offset += length;
  }

  // Independent ranges of symbols: one per word when that is exact (see
  // merges_words_independently), else the whole text.
  const bool by_word = words_independent_ && unicode::is_valid_utf8(text);
  const auto n = static_cast<int32_t>(symbols.size());
  auto is_space = [&](int32_t i) {
    const Symbol& symbol = symbols[static_cast<size_t>(i)];
    return std::string_view(text).substr(symbol.begin, symbol.length) == kEscapedSpace;
  };
  std::vector<Bigram> heap;
  int32_t first = 0;
  for (int32_t i = 1; i <= n; ++i) {
    if (i < n && !(by_word && is_space(i) && !is_space(i - 1))) continue;
    merge_range(*vocab_, text, symbols, first, i, heap);
    for (int32_t j = first; j != -1; j = symbols[static_cast<size_t>(j)].next) {
      const Symbol& symbol = symbols[static_cast<size_t>(j)];
      const std::string_view piece = std::string_view(text).substr(symbol.begin, symbol.length);
      const TokenId id = vocab_->find(piece);
      if (id != kNoToken) {
        out.push_back(id);
        continue;
      }
      // Not a token: byte fallback. A byte without a token becomes UNK if the
      // vocabulary has one, else is dropped (nothing can represent it).
      for (char c : piece) {
        const TokenId byte_id = byte_tokens_[static_cast<uint8_t>(c)];
        if (byte_id != kNoToken) {
          out.push_back(byte_id);
        } else if (vocab_->unk_id() != kNoToken) {
          out.push_back(vocab_->unk_id());
        }
      }
    }
    first = i;
  }
}

}  // namespace tether::tokenizer
