#include "engine/tokenizer/bpe_trainer.h"

#include <algorithm>
#include <queue>
#include <unordered_map>

namespace tether::tokenizer {
namespace {

using PairKey = uint64_t;

PairKey pair_key(int32_t left, int32_t right) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
}
int32_t pair_left(PairKey key) { return static_cast<int32_t>(key >> 32); }
int32_t pair_right(PairKey key) { return static_cast<int32_t>(key & 0xffffffffu); }

struct Word {
  std::vector<int32_t> symbols;
  uint64_t count = 0;
};

struct Candidate {
  uint64_t count = 0;
  PairKey pair = 0;
};

}  // namespace

BpeTrainer::BpeTrainer(std::vector<WordCount> words) : words_(std::move(words)) {}

BpeModel BpeTrainer::train(size_t max_tokens, uint64_t min_pair_count) const {
  BpeModel model;
  model.token_bytes.reserve(std::max<size_t>(max_tokens, 256));
  for (int byte = 0; byte < 256; ++byte) model.token_bytes.emplace_back(1, static_cast<char>(byte));
  std::unordered_map<std::string, int32_t> id_of_bytes;
  for (int32_t id = 0; id < 256; ++id) id_of_bytes.emplace(model.token_bytes[id], id);

  std::vector<Word> words;
  words.reserve(words_.size());
  for (const auto& word : words_) {
    if (word.count == 0 || word.bytes.size() < 2) continue;  // nothing to merge inside
    Word w;
    w.count = word.count;
    for (unsigned char byte : word.bytes) w.symbols.push_back(byte);
    words.push_back(std::move(w));
  }

  // Pair counts are exact at all times; `pair_words` may list words that no
  // longer hold the pair (checked when used); the heap holds stale entries
  // that are skipped when their count no longer matches.
  std::unordered_map<PairKey, uint64_t> pair_counts;
  std::unordered_map<PairKey, std::vector<uint32_t>> pair_words;
  for (uint32_t word_idx = 0; word_idx < words.size(); ++word_idx) {
    const auto& symbols = words[word_idx].symbols;
    for (size_t i = 0; i + 1 < symbols.size(); ++i) {
      PairKey key = pair_key(symbols[i], symbols[i + 1]);
      pair_counts[key] += words[word_idx].count;
      auto& list = pair_words[key];
      if (list.empty() || list.back() != word_idx) list.push_back(word_idx);
    }
  }

  const auto& bytes = model.token_bytes;
  // Priority: higher count first, then the pair whose bytes sort first.
  auto lower_priority = [&bytes](const Candidate& a, const Candidate& b) {
    if (a.count != b.count) return a.count < b.count;
    const std::string& a_left = bytes[pair_left(a.pair)];
    const std::string& b_left = bytes[pair_left(b.pair)];
    if (a_left != b_left) return a_left > b_left;
    return bytes[pair_right(a.pair)] > bytes[pair_right(b.pair)];
  };
  std::priority_queue<Candidate, std::vector<Candidate>, decltype(lower_priority)> heap(
      lower_priority);
  for (const auto& [key, count] : pair_counts) heap.push({count, key});

  std::vector<PairKey> touched;
  while (model.token_bytes.size() < max_tokens && !heap.empty()) {
    Candidate top = heap.top();
    heap.pop();
    auto count_it = pair_counts.find(top.pair);
    if (count_it == pair_counts.end() || count_it->second != top.count) continue;  // stale
    if (top.count < min_pair_count || top.count == 0) break;

    const int32_t left = pair_left(top.pair);
    const int32_t right = pair_right(top.pair);
    std::string merged = model.token_bytes[left] + model.token_bytes[right];
    int32_t result;
    if (auto found = id_of_bytes.find(merged); found != id_of_bytes.end()) {
      result = found->second;  // reached before by another split of the same bytes
    } else {
      result = static_cast<int32_t>(model.token_bytes.size());
      id_of_bytes.emplace(merged, result);
      model.token_bytes.push_back(std::move(merged));
    }
    model.merges.push_back({left, right, result});

    std::vector<uint32_t> holders = std::move(pair_words[top.pair]);
    pair_words.erase(top.pair);
    std::sort(holders.begin(), holders.end());
    holders.erase(std::unique(holders.begin(), holders.end()), holders.end());

    touched.clear();
    for (uint32_t word_idx : holders) {
      Word& word = words[word_idx];
      auto& symbols = word.symbols;
      bool holds = false;
      for (size_t i = 0; i + 1 < symbols.size() && !holds; ++i)
        holds = symbols[i] == left && symbols[i + 1] == right;
      if (!holds) continue;

      for (size_t i = 0; i + 1 < symbols.size(); ++i) {
        PairKey key = pair_key(symbols[i], symbols[i + 1]);
        pair_counts[key] -= word.count;
        touched.push_back(key);
      }
      std::vector<int32_t> next;
      next.reserve(symbols.size());
      for (size_t i = 0; i < symbols.size(); ++i) {
        if (i + 1 < symbols.size() && symbols[i] == left && symbols[i + 1] == right) {
          next.push_back(result);
          ++i;
        } else {
          next.push_back(symbols[i]);
        }
      }
      symbols = std::move(next);
      for (size_t i = 0; i + 1 < symbols.size(); ++i) {
        PairKey key = pair_key(symbols[i], symbols[i + 1]);
        pair_counts[key] += word.count;
        touched.push_back(key);
        auto& list = pair_words[key];
        if (list.empty() || list.back() != word_idx) list.push_back(word_idx);
      }
    }

    std::sort(touched.begin(), touched.end());
    touched.erase(std::unique(touched.begin(), touched.end()), touched.end());
    for (PairKey key : touched) {
      auto it = pair_counts.find(key);
      if (it->second == 0) {
        pair_counts.erase(it);
      } else {
        heap.push({it->second, key});
      }
    }
  }
  return model;
}

}  // namespace tether::tokenizer
