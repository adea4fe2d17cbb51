#include "router/prefix_index.h"

namespace tether::router {

PrefixIndex::PrefixIndex(size_t capacity, std::chrono::milliseconds ttl) : capacity_(capacity), ttl_(ttl) {}

bool PrefixIndex::fresh(const Entry& entry, Clock::time_point now) const { return now - entry.touched < ttl_; }

// The list is in touch order, so the stale entries are all at its back
// (as long as callers pass a steady clock's time).
void PrefixIndex::drop_stale(Clock::time_point now) {
  while (!lru_.empty() && !fresh(lru_.back(), now)) {
    by_hash_.erase(lru_.back().hash);
    lru_.pop_back();
  }
}

size_t PrefixIndex::match(std::span<const uint64_t> chain, Clock::time_point now) {
  drop_stale(now);
  size_t matched = 0;
  for (uint64_t hash : chain) {
    auto it = by_hash_.find(hash);
    if (it == by_hash_.end() || !fresh(*it->second, now)) break;
    ++matched;
  }
  return matched;
}

void PrefixIndex::insert(std::span<const uint64_t> chain, Clock::time_point now) {
  drop_stale(now);
  if (capacity_ == 0) return;
  // Last hash first, so the chain's head ends up most recent: eviction then
  // trims long prompts from their tails, and the shared head keeps matching.
  for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
    auto found = by_hash_.find(*it);
    if (found != by_hash_.end()) {
      found->second->touched = now;
      lru_.splice(lru_.begin(), lru_, found->second);
      continue;
    }
    lru_.push_front(Entry{*it, now});
    by_hash_.emplace(*it, lru_.begin());
  }
  while (lru_.size() > capacity_) {
    by_hash_.erase(lru_.back().hash);
    lru_.pop_back();
  }
}

size_t PrefixIndex::size() const { return lru_.size(); }

}  // namespace tether::router
