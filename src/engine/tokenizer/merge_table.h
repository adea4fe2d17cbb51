#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace tether::tokenizer {

// BPE merge rules keyed by (left symbol, right symbol): an open-addressing
// hash table (linear probing, power-of-two size, at most half full) because
// merging spends most of its time looking pairs up, and a flat array keeps
// those lookups to about one cache miss.
class MergeTable {
 public:
  struct Rule {
    int32_t rank;
    int32_t result;  // symbol id of the merged text
  };

  explicit MergeTable(size_t expected_rules = 0);

  // Adds a rule unless the pair already has one (the first, best rank wins).
  void insert(int32_t left, int32_t right, Rule rule);
  // The rule for (left, right), or nullptr.
  const Rule* find(int32_t left, int32_t right) const {
    const uint64_t key = pair_key(left, right);
    for (uint64_t slot = hash(key);; slot = (slot + 1) & mask_) {
      const Slot& s = slots_[slot];
      if (s.key == key) return &s.rule;
      if (s.key == kEmptyKey) return nullptr;
    }
  }
  size_t size() const { return size_; }

 private:
  struct Slot {
    uint64_t key;
    Rule rule;
  };
  // Symbol ids are non-negative, so no real pair has all bits set.
  static constexpr uint64_t kEmptyKey = ~uint64_t{0};

  static uint64_t pair_key(int32_t left, int32_t right) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
  }
  uint64_t hash(uint64_t key) const { return (key * 0x9E3779B97F4A7C15ull) >> shift_; }
  void grow();

  std::vector<Slot> slots_;
  uint64_t mask_ = 0;
  int shift_ = 64;
  size_t size_ = 0;
};

}  // namespace tether::tokenizer
