#include "kv/block_pool.h"

#include <gtest/gtest.h>

#include <numeric>
#include <vector>

#include "common/error.h"
#include "kv/chain_test_support.h"

namespace tether::kv {
namespace {

constexpr int kBlockTokens = test_support::kChainBlockTokens;

using test_support::Chain;

// Allocates and publishes every block of `chain`; returns the block table.
std::vector<BlockId> compute(BlockPool& pool, const Chain& chain) {
  std::vector<BlockId> table;
  for (size_t block_idx = 0; block_idx < chain.hashes.size(); ++block_idx) {
    const auto block = pool.allocate();
    EXPECT_TRUE(block.has_value());
    EXPECT_TRUE(
        pool.publish(*block, chain.hashes[block_idx], chain.content(static_cast<int>(block_idx))));
    table.push_back(*block);
  }
  return table;
}

void release_deepest_first(BlockPool& pool, std::vector<BlockId>& table) {
  for (auto it = table.rbegin(); it != table.rend(); ++it) pool.release(*it);
  table.clear();
}

void expect_invariants(const BlockPool& pool, std::vector<std::vector<BlockId>> tables) {
  std::vector<std::span<const BlockId>> spans(tables.begin(), tables.end());
  EXPECT_NO_THROW(pool.check_invariants(spans));
}

TEST(BlockPool, RejectsBadSizes) {
  EXPECT_THROW(BlockPool(0, 16), Error);
  EXPECT_THROW(BlockPool(4, 0), Error);
}

TEST(BlockPool, AllocatesUntilEmptyAndReleasesToFree) {
  BlockPool pool(3, kBlockTokens);
  EXPECT_EQ(pool.free_blocks(), 3);
  std::vector<BlockId> table;
  for (int i = 0; i < 3; ++i) {
    auto block = pool.allocate();
    ASSERT_TRUE(block.has_value());
    EXPECT_EQ(pool.ref_count(*block), 1);
    table.push_back(*block);
  }
  EXPECT_EQ(to_index(table[0]), 0);
  EXPECT_FALSE(pool.allocate().has_value());
  EXPECT_EQ(pool.used_blocks(), 3);
  expect_invariants(pool, {table});
  pool.release(table[1]);
  EXPECT_EQ(pool.free_blocks(), 1);
  EXPECT_EQ(pool.cached_blocks(), 0);  // never hashed: plain free
  EXPECT_THROW(pool.release(table[1]), Error);
  EXPECT_THROW(pool.acquire(table[1]), Error);  // nothing to share in a free block
  EXPECT_THROW(pool.release(BlockId{7}), Error);
  table.erase(table.begin() + 1);
  expect_invariants(pool, {table});
}

TEST(BlockPool, PublishedBlocksStayCachedAfterRelease) {
  BlockPool pool(4, kBlockTokens);
  Chain chain(2, 10, "s");
  auto table = compute(pool, chain);
  EXPECT_EQ(pool.state(chain.hashes[0]), HashState::kReady);
  EXPECT_EQ(pool.find(chain.hashes[1]), table[1]);
  EXPECT_EQ(pool.indexed_hash(table[1]), chain.hashes[1]);
  const BlockContent content = pool.content(table[1]);
  EXPECT_EQ(content.parent, chain.hashes[0]);
  EXPECT_EQ(content.salt, chain.salt);
  EXPECT_TRUE(std::ranges::equal(content.tokens, chain.block_tokens(1)));

  release_deepest_first(pool, table);
  EXPECT_EQ(pool.cached_blocks(), 2);
  EXPECT_EQ(pool.free_blocks(), 4);
  EXPECT_EQ(pool.state(chain.hashes[1]), HashState::kReady);
  expect_invariants(pool, {});

  // A hit takes the block out of the LRU list; a second holder shares it.
  const PrefixMatch match = pool.match_prefix(chain.hashes);
  EXPECT_EQ(match.ready_blocks, 2);
  EXPECT_FALSE(match.wait_for.has_value());
  const BlockId first = *pool.find(chain.hashes[0]);
  pool.acquire(first);
  pool.acquire(first);
  EXPECT_EQ(pool.ref_count(first), 2);
  EXPECT_EQ(pool.cached_blocks(), 1);
  expect_invariants(pool, {{first}, {first}});
  // Plain free blocks go first: the other cached block survives two allocations.
  auto a = pool.allocate();
  auto b = pool.allocate();
  ASSERT_TRUE(a && b);
  EXPECT_EQ(pool.state(chain.hashes[1]), HashState::kReady);
  EXPECT_EQ(pool.stats().evicted_blocks, 0u);
  // Now only the cached block is left: allocating it evicts its hash.
  auto c = pool.allocate();
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(pool.state(chain.hashes[1]), HashState::kAbsent);
  EXPECT_EQ(pool.stats().evicted_blocks, 1u);
  EXPECT_FALSE(pool.indexed_hash(*c).has_value());
  expect_invariants(pool, {{first, *a}, {first, *b}, {*c}});
}

TEST(BlockPool, FirstWriterWins) {
  BlockPool pool(4, kBlockTokens);
  Chain chain(1, 0);
  auto a = pool.allocate();
  auto b = pool.allocate();
  EXPECT_TRUE(pool.publish(*a, chain.hashes[0], chain.content(0)));
  EXPECT_FALSE(pool.publish(*b, chain.hashes[0], chain.content(0)));
  EXPECT_EQ(pool.find(chain.hashes[0]), a);
  EXPECT_FALSE(pool.indexed_hash(*b).has_value());
  EXPECT_FALSE(pool.index_pending(*b, chain.hashes[0], chain.content(0)));
  expect_invariants(pool, {{*a}, {*b}});
  // The private copy goes back to the plain free list; the indexed one is cached.
  pool.release(*b);
  pool.release(*a);
  EXPECT_EQ(pool.cached_blocks(), 1);
  expect_invariants(pool, {});
}

TEST(BlockPool, PendingBlocksMakeLookupsWaitAndVanishWhenDropped) {
  BlockPool pool(4, kBlockTokens);
  Chain chain(3, 50);
  const BlockId b0 = *pool.allocate();
  const BlockId b1 = *pool.allocate();
  ASSERT_TRUE(pool.publish(b0, chain.hashes[0], chain.content(0)));
  ASSERT_TRUE(pool.index_pending(b1, chain.hashes[1], chain.content(1)));
  EXPECT_EQ(pool.state(chain.hashes[1]), HashState::kPending);
  EXPECT_FALSE(pool.is_ready(b1));
  EXPECT_THROW(pool.acquire(b1), Error);  // no one shares KV that is not written yet
  PrefixMatch match = pool.match_prefix(chain.hashes);
  EXPECT_EQ(match.ready_blocks, 1);
  ASSERT_TRUE(match.wait_for.has_value());
  EXPECT_EQ(*match.wait_for, chain.hashes[1]);
  expect_invariants(pool, {{b0, b1}});

  // Publishing under another hash is a caller bug.
  EXPECT_THROW(pool.publish(b1, chain.hashes[2], chain.content(2)), Error);
  // The writer gives up: the pending hash leaves the index, the block is plain free.
  pool.release(b1);
  EXPECT_EQ(pool.state(chain.hashes[1]), HashState::kAbsent);
  match = pool.match_prefix(chain.hashes);
  EXPECT_EQ(match.ready_blocks, 1);
  EXPECT_FALSE(match.wait_for.has_value());
  EXPECT_EQ(pool.cached_blocks(), 0);
  expect_invariants(pool, {{b0}});

  // A pending block that gets published becomes ready and is cached on release.
  const BlockId again = *pool.allocate();
  ASSERT_TRUE(pool.index_pending(again, chain.hashes[1], chain.content(1)));
  EXPECT_TRUE(pool.publish(again, chain.hashes[1], chain.content(1)));
  EXPECT_EQ(pool.state(chain.hashes[1]), HashState::kReady);
  pool.release(again);
  pool.release(b0);
  EXPECT_EQ(pool.cached_blocks(), 2);
  EXPECT_EQ(pool.match_prefix(chain.hashes).ready_blocks, 2);
  expect_invariants(pool, {});
}

TEST(BlockPool, EvictsLeastRecentlyUsedChainFirstAndDeepestBlockFirst) {
  BlockPool pool(5, kBlockTokens);
  Chain a(3, 0, "t");
  Chain b(2, 1000, "t");
  auto table_a = compute(pool, a);
  auto table_b = compute(pool, b);
  const std::vector<BlockId> blocks_a = table_a;
  const std::vector<BlockId> blocks_b = table_b;
  release_deepest_first(pool, table_a);  // chain a is used less recently
  release_deepest_first(pool, table_b);
  EXPECT_EQ(pool.cached_blocks(), 5);
  expect_invariants(pool, {});

  // Touch a's root again (a new sequence sharing only its first block), so
  // it becomes the most recently used block.
  pool.acquire(blocks_a[0]);
  pool.release(blocks_a[0]);

  const std::vector<BlockId> expected = {blocks_a[2], blocks_a[1], blocks_b[1], blocks_b[0],
                                         blocks_a[0]};
  std::vector<BlockId> taken;
  for (size_t i = 0; i < expected.size(); ++i) {
    auto block = pool.allocate();
    ASSERT_TRUE(block.has_value());
    EXPECT_EQ(*block, expected[i]) << "eviction " << i;
    taken.push_back(*block);
    // Lookups degrade from the deep end: a chain's prefix stays usable.
    expect_invariants(pool, {taken});
  }
  EXPECT_EQ(pool.match_prefix(a.hashes).ready_blocks, 0);
  EXPECT_EQ(pool.stats().evicted_blocks, 5u);
  EXPECT_FALSE(pool.allocate().has_value());
}

TEST(BlockPool, AChildOfAPrivateCopyCanOutliveItsIndexedParentHarmlessly) {
  BlockPool pool(4, kBlockTokens);
  Chain shared(1, 0);
  Chain child(2, 0);  // same first block, then one more
  // Two sequences missed the first block at once; the second computed a
  // private copy and then a child that only it has.
  std::vector<BlockId> first = compute(pool, shared);
  const BlockId copy = *pool.allocate();
  EXPECT_FALSE(pool.publish(copy, child.hashes[0], child.content(0)));
  const BlockId tail = *pool.allocate();
  EXPECT_TRUE(pool.publish(tail, child.hashes[1], child.content(1)));
  // The first sequence finishes before the second: the indexed parent is
  // older in the LRU list than the child.
  release_deepest_first(pool, first);
  pool.release(tail);
  pool.release(copy);
  EXPECT_EQ(pool.match_prefix(child.hashes).ready_blocks, 2);
  expect_invariants(pool, {});
  // Four allocations: the two plain free blocks, then the parent, then the child.
  std::vector<BlockId> taken;
  for (int i = 0; i < 3; ++i) taken.push_back(*pool.allocate());
  EXPECT_EQ(pool.state(child.hashes[0]), HashState::kAbsent);
  EXPECT_EQ(pool.state(child.hashes[1]), HashState::kReady);
  // The orphan is unreachable: lookups walk from the root.
  EXPECT_EQ(pool.match_prefix(child.hashes).ready_blocks, 0);
  expect_invariants(pool, {taken});
  taken.push_back(*pool.allocate());
  EXPECT_EQ(taken.back(), tail);
  EXPECT_EQ(pool.state(child.hashes[1]), HashState::kAbsent);
  expect_invariants(pool, {taken});
}

TEST(BlockPool, StatsCountQueriesHitsAndGauges) {
  BlockPool pool(6, kBlockTokens);
  pool.record_query(10, 2, 1);
  pool.record_query(9, 2, 2);
  pool.record_wait();
  auto block = pool.allocate();
  const KvCacheStats stats = pool.stats();
  EXPECT_EQ(stats.queries, 2u);
  EXPECT_EQ(stats.query_tokens, 19u);
  EXPECT_EQ(stats.query_blocks, 4u);
  EXPECT_EQ(stats.hit_blocks, 3u);
  EXPECT_EQ(stats.hit_tokens, 3u * kBlockTokens);
  EXPECT_EQ(stats.waits, 1u);
  EXPECT_EQ(stats.total_blocks, 6);
  EXPECT_EQ(stats.used_blocks, 1);
  EXPECT_EQ(stats.free_blocks, 5);
  EXPECT_EQ(stats.cached_blocks, 0);
  pool.release(*block);
}

TEST(BlockPool, InvariantCheckCatchesMismatchedTables) {
  BlockPool pool(4, kBlockTokens);
  const BlockId a = *pool.allocate();
  const BlockId b = *pool.allocate();
  std::vector<BlockId> both = {a, b};
  std::vector<BlockId> only_a = {a};
  std::vector<BlockId> twice = {a, a};
  std::vector<std::span<const BlockId>> good = {both};
  std::vector<std::span<const BlockId>> missing = {only_a};      // b leaked
  std::vector<std::span<const BlockId>> extra = {both, only_a};  // a over-referenced
  std::vector<std::span<const BlockId>> repeated = {twice};
  EXPECT_NO_THROW(pool.check_invariants(good));
  EXPECT_THROW(pool.check_invariants(missing), Error);
  EXPECT_THROW(pool.check_invariants(extra), Error);
  EXPECT_THROW(pool.check_invariants(repeated), Error);
  pool.release(b);
  EXPECT_NO_THROW(pool.check_invariants(missing));
  // A freed block still named by a table is referenced and free at once.
  EXPECT_THROW(pool.check_invariants(good), Error);
}

}  // namespace
}  // namespace tether::kv
