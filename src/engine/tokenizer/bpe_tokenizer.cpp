#include "engine/tokenizer/bpe_tokenizer.h"

#include <algorithm>

#include "common/error.h"
#include "engine/tokenizer/unicode.h"

namespace tether::tokenizer {
namespace {

struct Symbol {
  int32_t id;    // symbol id (a token id below n_tokens)
  int32_t prev;  // neighbours in the word, -1 at the ends
  int32_t next;
  bool alive;
};

struct Candidate {
  int32_t rank;
  int32_t left;  // symbol positions in the word
  int32_t right;
  int32_t left_id;  // what they held when queued; a change marks it stale
  int32_t right_id;
  int32_t result;
};

// A min-heap on (rank, left): lowest rank first, leftmost on ties.
struct CandidateAfter {
  bool operator()(const Candidate& a, const Candidate& b) const {
    return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
  }
};

}  // namespace

// Buffers reused across the words of one encode() call.
struct BpeTokenizer::Scratch {
  std::vector<Symbol> symbols;
  std::vector<Candidate> heap;
  std::string encoded_word;
};

BpeTokenizer::BpeTokenizer(const Vocab& vocab)
    : vocab_(&vocab),
      pre_tokenizer_(PreTokenizer::for_type(vocab.pre_type())),
      merges_(vocab.merges().size()) {
  std::unordered_map<std::string, int32_t> extra_ids;
  for (int byte = 0; byte < 256; ++byte) {
    byte_symbols_[static_cast<size_t>(byte)] =
        intern_symbol(unicode::byte_to_utf8(static_cast<uint8_t>(byte)), extra_ids);
  }
  const auto& rules = vocab.merges();
  std::string joined;
  for (size_t rank = 0; rank < rules.size(); ++rank) {
    const auto& [left_text, right_text] = rules[rank];
    const int32_t left = intern_symbol(left_text, extra_ids);
    const int32_t right = intern_symbol(right_text, extra_ids);
    joined.assign(left_text).append(right_text);
    const int32_t result = intern_symbol(joined, extra_ids);
    // A repeated rule keeps its first (best) rank.
    merges_.insert(left, right, {static_cast<int32_t>(rank), result});
  }
}

int32_t BpeTokenizer::intern_symbol(const std::string& text,
                                    std::unordered_map<std::string, int32_t>& extra_ids) {
  const TokenId id = vocab_->find(text);
  if (id != kNoToken) return id;
  const auto [it, inserted] = extra_ids.try_emplace(
      text, vocab_->n_tokens() + static_cast<int32_t>(extra_symbol_texts_.size()));
  if (inserted) extra_symbol_texts_.push_back(text);
  return it->second;
}

void BpeTokenizer::encode(std::string_view text, std::vector<TokenId>& out) const {
  const std::string valid = unicode::sanitize_utf8(text);
  Scratch scratch;
  for (std::string_view word : pre_tokenizer_.split(valid)) encode_word(word, scratch, out);
}

void BpeTokenizer::encode_word(std::string_view word, Scratch& scratch,
                               std::vector<TokenId>& out) const {
  if (word.empty()) return;
  if (pre_tokenizer_.ignore_merges()) {
    // Llama 3 style: a word that is a token as a whole is taken as is.
    scratch.encoded_word.clear();
    for (char c : word) scratch.encoded_word += unicode::byte_to_utf8(static_cast<uint8_t>(c));
    const TokenId id = vocab_->find(scratch.encoded_word);
    if (id != kNoToken) {
      out.push_back(id);
      return;
    }
  }

  auto& symbols = scratch.symbols;
  symbols.clear();
  const auto n = static_cast<int32_t>(word.size());
  for (int32_t i = 0; i < n; ++i) {
    symbols.push_back({byte_symbols_[static_cast<uint8_t>(word[static_cast<size_t>(i)])], i - 1,
                       i + 1 < n ? i + 1 : -1, true});
  }

  auto& heap = scratch.heap;
  heap.clear();
  auto try_add = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    const int32_t left_id = symbols[static_cast<size_t>(left)].id;
    const int32_t right_id = symbols[static_cast<size_t>(right)].id;
    const MergeTable::Rule* rule = merges_.find(left_id, right_id);
    if (rule == nullptr) return;
    heap.push_back({rule->rank, left, right, left_id, right_id, rule->result});
    std::push_heap(heap.begin(), heap.end(), CandidateAfter{});
  };
  for (int32_t i = 1; i < n; ++i) try_add(i - 1, i);

  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), CandidateAfter{});
    const Candidate candidate = heap.back();
    heap.pop_back();
    Symbol& left = symbols[static_cast<size_t>(candidate.left)];
    Symbol& right = symbols[static_cast<size_t>(candidate.right)];
    if (!left.alive || !right.alive || left.id != candidate.left_id ||
        right.id != candidate.right_id) {
      continue;
    }
    left.id = candidate.result;
    right.alive = false;
    left.next = right.next;
    if (right.next >= 0) symbols[static_cast<size_t>(right.next)].prev = candidate.left;
    try_add(left.prev, candidate.left);
    try_add(candidate.left, left.next);
  }

  for (int32_t i = 0; i != -1; i = symbols[static_cast<size_t>(i)].next) {
    emit_symbol(symbols[static_cast<size_t>(i)].id, out);
  }
}

void BpeTokenizer::emit_symbol(int32_t symbol, std::vector<TokenId>& out) const {
  if (symbol < vocab_->n_tokens()) {
    out.push_back(symbol);
    return;
  }
  // A merge produced (or a byte is) a text that is not a token. llama.cpp
  // then emits whichever of its single bytes are tokens; do the same so ids
  // agree even for such odd vocabularies.
  const std::string& text = extra_symbol_texts_[static_cast<size_t>(symbol - vocab_->n_tokens())];
  for (char c : text) {
    const TokenId id = vocab_->find(std::string_view(&c, 1));
    if (id != kNoToken) out.push_back(id);
  }
}

}  // namespace tether::tokenizer
