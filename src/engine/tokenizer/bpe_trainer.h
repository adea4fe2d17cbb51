#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace tether::tokenizer {

// One learned merge: tokens `left` and `right` next to each other become
// `result` (whose bytes are theirs concatenated).
struct BpeMerge {
  int32_t left = 0;
  int32_t right = 0;
  int32_t result = 0;
};

// A byte-level BPE vocabulary as raw bytes: ids 0..255 are the single bytes,
// later ids are learned tokens in the order they were first made.
struct BpeModel {
  std::vector<std::string> token_bytes;
  std::vector<BpeMerge> merges;  // in rank order (first learned = applied first)
};

// Learns merges from words (pre-tokenized pieces of a corpus, each with its
// count) the classic way: repeatedly merge the most frequent adjacent pair.
// Ties go to the pair whose (left, right) bytes sort first, so the result
// depends only on the input, never on hash-table order. Pair counts are
// updated incrementally (only the words holding the merged pair are
// revisited), which keeps a few thousand merges well under a second.
class BpeTrainer {
 public:
  struct WordCount {
    std::string bytes;
    uint64_t count = 0;
  };

  explicit BpeTrainer(std::vector<WordCount> words);

  // Stops when the vocabulary holds `max_tokens` tokens (counting the 256
  // bytes) or when no adjacent pair occurs at least `min_pair_count` times.
  BpeModel train(size_t max_tokens, uint64_t min_pair_count) const;

 private:
  std::vector<WordCount> words_;
};

}  // namespace tether::tokenizer
