#include "router/prefix_index.h"

#include <vector>

#include <gtest/gtest.h>

namespace tether::router {
namespace {

using namespace std::chrono_literals;
using Clock = PrefixIndex::Clock;

const Clock::time_point kT0 = Clock::time_point{} + 1h;

TEST(PrefixIndexTest, MatchCountsLeadingHashesOnly) {
  PrefixIndex index(100, 60s);
  const std::vector<uint64_t> chain = {1, 2, 3, 4};
  EXPECT_EQ(index.match(chain, kT0), 0u);
  index.insert(chain, kT0);
  EXPECT_EQ(index.size(), 4u);
  EXPECT_EQ(index.match(chain, kT0), 4u);
  EXPECT_EQ(index.match(std::vector<uint64_t>{1, 2, 9, 4}, kT0), 2u);   // stops at the first miss
  EXPECT_EQ(index.match(std::vector<uint64_t>{9, 2, 3}, kT0), 0u);
  EXPECT_EQ(index.match(std::vector<uint64_t>{1, 2, 3, 4, 5, 6}, kT0), 4u);  // a longer prompt
  EXPECT_EQ(index.match(std::vector<uint64_t>{}, kT0), 0u);
  // Inserting again refreshes, it does not duplicate.
  index.insert(chain, kT0 + 1s);
  EXPECT_EQ(index.size(), 4u);
}

TEST(PrefixIndexTest, BoundedLeastRecentlyTouchedOutFirst) {
  PrefixIndex index(5, 60s);
  index.insert(std::vector<uint64_t>{1, 2, 3}, kT0);
  index.insert(std::vector<uint64_t>{10, 11}, kT0 + 1s);
  EXPECT_EQ(index.size(), 5u);
  // Touch the first prompt, then add another: the second prompt's hashes go.
  index.insert(std::vector<uint64_t>{1, 2, 3}, kT0 + 2s);
  index.insert(std::vector<uint64_t>{20, 21}, kT0 + 3s);
  EXPECT_EQ(index.size(), 5u);
  EXPECT_EQ(index.match(std::vector<uint64_t>{1, 2, 3}, kT0 + 3s), 3u);
  EXPECT_EQ(index.match(std::vector<uint64_t>{20, 21}, kT0 + 3s), 2u);
  EXPECT_EQ(index.match(std::vector<uint64_t>{10, 11}, kT0 + 3s), 0u);
}

TEST(PrefixIndexTest, ALongChainKeepsItsHead) {
  PrefixIndex index(3, 60s);
  index.insert(std::vector<uint64_t>{1, 2, 3, 4, 5, 6}, kT0);
  EXPECT_EQ(index.size(), 3u);
  // The head is what later prompts share; the tail is what goes.
  EXPECT_EQ(index.match(std::vector<uint64_t>{1, 2, 3, 4, 5, 6}, kT0), 3u);
  EXPECT_EQ(index.match(std::vector<uint64_t>{4}, kT0), 0u);
}

TEST(PrefixIndexTest, EntriesAgeOut) {
  PrefixIndex index(100, 10s);
  index.insert(std::vector<uint64_t>{1, 2}, kT0);
  index.insert(std::vector<uint64_t>{3}, kT0 + 5s);
  EXPECT_EQ(index.match(std::vector<uint64_t>{1, 2}, kT0 + 9s), 2u);
  EXPECT_EQ(index.match(std::vector<uint64_t>{1, 2}, kT0 + 10s), 0u);  // untouched for ttl: gone
  EXPECT_EQ(index.size(), 1u);                                          // and dropped
  EXPECT_EQ(index.match(std::vector<uint64_t>{3}, kT0 + 14s), 1u);
  // Touching keeps an entry alive.
  index.insert(std::vector<uint64_t>{3}, kT0 + 14s);
  EXPECT_EQ(index.match(std::vector<uint64_t>{3}, kT0 + 23s), 1u);
  index.insert(std::vector<uint64_t>{}, kT0 + 30s);
  EXPECT_EQ(index.size(), 0u);
}

TEST(PrefixIndexTest, ZeroCapacityHoldsNothing) {
  PrefixIndex index(0, 10s);
  index.insert(std::vector<uint64_t>{1, 2}, kT0);
  EXPECT_EQ(index.size(), 0u);
  EXPECT_EQ(index.match(std::vector<uint64_t>{1}, kT0), 0u);
}

}  // namespace
}  // namespace tether::router
