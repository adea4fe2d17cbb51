#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <list>
#include <span>
#include <unordered_map>

namespace tether::router {

// One replica's recent prompts, as the chained chunk hashes of those routed
// there: a guess at what its prefix cache holds. Bounded (least recently
// touched out first) and aging (an entry untouched for `ttl` no longer counts
// and is dropped when next seen). O(1) per hash. Not thread-safe: the Router
// guards it.
class PrefixIndex {
 public:
  using Clock = std::chrono::steady_clock;

  PrefixIndex(size_t capacity, std::chrono::milliseconds ttl);

  // How many leading hashes of `chain` are present and fresh. Hashes are
  // chained, so a present hash stands for its whole prefix; the count stops at
  // the first missing one.
  size_t match(std::span<const uint64_t> chain, Clock::time_point now);

  // Adds the chain's hashes or refreshes them.
  void insert(std::span<const uint64_t> chain, Clock::time_point now);

  // Entries held, stale ones included until a match or insert drops them.
  size_t size() const;

 private:
  struct Entry {
    uint64_t hash;
    Clock::time_point touched;
  };
  using Lru = std::list<Entry>;  // most recently touched first

  bool fresh(const Entry& entry, Clock::time_point now) const;
  void drop_stale(Clock::time_point now);

  size_t capacity_;
  std::chrono::milliseconds ttl_;
  Lru lru_;
  std::unordered_map<uint64_t, Lru::iterator> by_hash_;
};

}  // namespace tether::router
