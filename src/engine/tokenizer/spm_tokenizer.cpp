#include "engine/tokenizer/spm_tokenizer.h"

#include <cstdint>
#include <queue>
#include <string>

#include <fmt/format.h>

#include "common/error.h"
#include "engine/tokenizer/unicode.h"

namespace tether::tokenizer {
namespace {

constexpr std::string_view kEscapedSpace = "\xE2\x96\x81";  // U+2581

struct Symbol {
  uint32_t begin;
  uint32_t length;  // 0 once merged into its left neighbour
  int32_t prev;
  int32_t next;
};

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

}  // namespace

SpmTokenizer::SpmTokenizer(const Vocab& vocab) : vocab_(&vocab) {
  for (int byte = 0; byte < 256; ++byte) {
    TokenId id = vocab.find(fmt::format("<0x{:02X}>", byte));
    if (id == kNoToken) id = vocab.find(std::string(1, static_cast<char>(byte)));
    byte_tokens_[static_cast<size_t>(byte)] = id;
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
  for (size_t offset = 0; offset < text.size();) {
    const size_t length = std::min(unicode::sequence_length_from_lead(static_cast<uint8_t>(text[offset])),
                                   text.size() - offset);
    const auto index = static_cast<int32_t>(symbols.size());
    symbols.push_back({static_cast<uint32_t>(offset), static_cast<uint32_t>(length), index - 1,
                       offset + length == text.size() ? -1 : index + 1});
    offset += length;
  }

  std::vector<Bigram> storage;
  storage.reserve(symbols.size());
  std::priority_queue<Bigram, std::vector<Bigram>, BigramOrder> queue(BigramOrder{},
                                                                     std::move(storage));
  auto try_add_bigram = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    const Symbol& a = symbols[static_cast<size_t>(left)];
    const Symbol& b = symbols[static_cast<size_t>(right)];
    const uint32_t length = a.length + b.length;
    const TokenId id = vocab_->find(std::string_view(text).substr(a.begin, length));
    if (id == kNoToken) return;
    queue.push({vocab_->score(id), left, right, length});
  };

  for (size_t i = 1; i < symbols.size(); ++i) {
    try_add_bigram(static_cast<int32_t>(i - 1), static_cast<int32_t>(i));
  }

  while (!queue.empty()) {
    const Bigram bigram = queue.top();
    queue.pop();
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

  for (int32_t i = 0; i != -1; i = symbols[static_cast<size_t>(i)].next) {
    const Symbol& symbol = symbols[static_cast<size_t>(i)];
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
}

}  // namespace tether::tokenizer
