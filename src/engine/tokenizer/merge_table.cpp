#include "engine/tokenizer/merge_table.h"

namespace tether::tokenizer {

MergeTable::MergeTable(size_t expected_rules) {
  size_t capacity = 16;
  int bits = 4;
  while (capacity < 2 * expected_rules + 2) {
    capacity *= 2;
    ++bits;
  }
  slots_.assign(capacity, Slot{kEmptyKey, {0, 0}});
  mask_ = capacity - 1;
  shift_ = 64 - bits;
}

void MergeTable::insert(int32_t left, int32_t right, Rule rule) {
  if (2 * (size_ + 1) > slots_.size()) grow();
  const uint64_t key = pair_key(left, right);
  for (uint64_t slot = hash(key);; slot = (slot + 1) & mask_) {
    Slot& s = slots_[slot];
    if (s.key == key) return;
    if (s.key == kEmptyKey) {
      s = Slot{key, rule};
      ++size_;
      return;
    }
  }
}

void MergeTable::grow() {
  std::vector<Slot> old = std::move(slots_);
  slots_.assign(old.size() * 2, Slot{kEmptyKey, {0, 0}});
  mask_ = slots_.size() - 1;
  --shift_;
  size_ = 0;
  for (const Slot& s : old) {
    if (s.key == kEmptyKey) continue;
    insert(static_cast<int32_t>(s.key >> 32), static_cast<int32_t>(s.key & 0xFFFFFFFFu), s.rule);
  }
}

}  // namespace tether::tokenizer
