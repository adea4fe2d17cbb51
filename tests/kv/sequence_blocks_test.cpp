#include "kv/sequence_blocks.h"

#include <gtest/gtest.h>

#include <numeric>
#include <vector>

#include "common/error.h"

namespace tether::kv {
namespace {

constexpr int kBlockTokens = 4;

std::vector<KvTokenId> tokens(int n, KvTokenId first = 1) {
  std::vector<KvTokenId> out(static_cast<size_t>(n));
  std::iota(out.begin(), out.end(), first);
  return out;
}

// Runs the whole known remainder of `seq` through one "forward step".
void compute_all(SequenceBlocks& seq) {
  const int n = seq.n_tokens() - seq.n_computed_tokens();
  ASSERT_EQ(seq.allocate_slots(n), AllocResult::kOk);
  seq.commit(n);
}

void expect_invariants(const BlockPool& pool, std::initializer_list<const SequenceBlocks*> seqs) {
  std::vector<std::span<const BlockId>> tables;
  for (const SequenceBlocks* seq : seqs) {
    tables.push_back(seq->block_table());
    EXPECT_NO_THROW(seq->check_invariants());
  }
  EXPECT_NO_THROW(pool.check_invariants(tables));
}

TEST(SequenceBlocks, SecondSequenceReusesTheCachedPrefixAndSharesBlocks) {
  BlockPool pool(16, kBlockTokens);
  const auto prompt = tokens(10);  // two full blocks and a partial one
  SequenceBlocks a(pool, prompt, "tenant");
  StartResult start = a.start();
  EXPECT_EQ(start.status, StartStatus::kStarted);
  EXPECT_EQ(start.cached_tokens, 0);
  compute_all(a);
  EXPECT_EQ(a.block_table().size(), 3u);
  EXPECT_EQ(a.n_computed_tokens(), 10);

  SequenceBlocks b(pool, prompt, "tenant");
  start = b.start();
  EXPECT_EQ(start.status, StartStatus::kStarted);
  EXPECT_EQ(start.cached_tokens, 8);
  EXPECT_EQ(b.n_computed_tokens(), 8);
  ASSERT_EQ(b.block_table().size(), 2u);
  EXPECT_EQ(b.block_table()[0], a.block_table()[0]);
  EXPECT_EQ(b.block_table()[1], a.block_table()[1]);
  EXPECT_EQ(pool.ref_count(a.block_table()[0]), 2);
  compute_all(b);
  // b computed its own partial block.
  EXPECT_NE(b.block_table()[2], a.block_table()[2]);
  expect_invariants(pool, {&a, &b});

  const KvCacheStats stats = pool.stats();
  EXPECT_EQ(stats.queries, 2u);
  EXPECT_EQ(stats.query_tokens, 20u);
  EXPECT_EQ(stats.query_blocks, 4u);
  EXPECT_EQ(stats.hit_blocks, 2u);
  EXPECT_EQ(stats.hit_tokens, 8u);
  EXPECT_EQ(stats.used_blocks, 4);
}

TEST(SequenceBlocks, NeverReusesTheWholePrompt) {
  BlockPool pool(16, kBlockTokens);
  const auto prompt = tokens(8);  // exactly two full blocks
  SequenceBlocks a(pool, prompt, "");
  a.start();
  compute_all(a);
  a.release();
  EXPECT_EQ(pool.cached_blocks(), 2);
  SequenceBlocks b(pool, prompt, "");
  // One full block is reused; the last one is recomputed so the model sees
  // at least one token and produces the next token's logits.
  EXPECT_EQ(b.start().cached_tokens, 4);
  EXPECT_EQ(b.blocks_needed(4), 1);
  compute_all(b);
  // b's recomputed last block is a private copy of the cached one.
  EXPECT_FALSE(pool.indexed_hash(b.block_table()[1]).has_value());
  expect_invariants(pool, {&b});
  // One-token and empty prompts reuse nothing.
  SequenceBlocks one(pool, tokens(1), "");
  EXPECT_EQ(one.start().cached_tokens, 0);
  SequenceBlocks empty(pool, {}, "");
  EXPECT_EQ(empty.start().cached_tokens, 0);
  EXPECT_EQ(empty.blocks_needed(0), 0);
}

TEST(SequenceBlocks, DifferentSaltsNeverShare) {
  BlockPool pool(16, kBlockTokens);
  const auto prompt = tokens(13);
  SequenceBlocks a(pool, prompt, "tenant-a");
  a.start();
  compute_all(a);
  a.release();
  SequenceBlocks b(pool, prompt, "tenant-b");
  EXPECT_EQ(b.start().cached_tokens, 0);
  EXPECT_NE(b.full_block_hashes()[0], a.full_block_hashes()[0]);
  compute_all(b);
  for (BlockId block : b.block_table()) EXPECT_EQ(pool.ref_count(block), 1);
  SequenceBlocks c(pool, prompt, "tenant-a");
  EXPECT_EQ(c.start().cached_tokens, 12);
  EXPECT_EQ(pool.stats().hit_blocks, 3u);
  expect_invariants(pool, {&b, &c});
}

TEST(SequenceBlocks, WaitsForAPrefixBeingComputedInsteadOfRecomputingIt) {
  BlockPool pool(16, kBlockTokens);
  const auto prompt = tokens(14);
  SequenceBlocks writer(pool, prompt, "");
  writer.start();
  // Chunked prefill: the first chunk covers blocks 0 and 1.
  ASSERT_EQ(writer.allocate_slots(8), AllocResult::kOk);

  SequenceBlocks reader(pool, prompt, "");
  StartResult start = reader.start();
  EXPECT_EQ(start.status, StartStatus::kMustWait);
  EXPECT_EQ(start.wait_for, reader.full_block_hashes()[0]);
  EXPECT_EQ(pool.state(start.wait_for), HashState::kPending);
  EXPECT_FALSE(reader.started());
  EXPECT_TRUE(reader.block_table().empty());
  expect_invariants(pool, {&writer, &reader});

  // The chunk's KV is written: block 0 and 1 are ready; block 2 is not yet
  // allocated, so the reader may start with two blocks...
  writer.commit(8);
  EXPECT_EQ(pool.state(start.wait_for), HashState::kReady);
  // ...unless the writer already claimed its next chunk, as a scheduler that
  // serves running sequences before admitting new ones does.
  ASSERT_EQ(writer.allocate_slots(6), AllocResult::kOk);
  start = reader.start();
  EXPECT_EQ(start.status, StartStatus::kMustWait);
  EXPECT_EQ(start.wait_for, reader.full_block_hashes()[2]);
  writer.commit(6);
  start = reader.start();
  ASSERT_EQ(start.status, StartStatus::kStarted);
  EXPECT_EQ(start.cached_tokens, 12);
  EXPECT_EQ(pool.stats().waits, 2u);
  EXPECT_EQ(pool.stats().queries, 2u);  // waits are not queries
  compute_all(reader);
  expect_invariants(pool, {&writer, &reader});
}

TEST(SequenceBlocks, WaitersRecomputeWhenTheWriterIsCancelled) {
  BlockPool pool(16, kBlockTokens);
  const auto prompt = tokens(9);
  SequenceBlocks writer(pool, prompt, "");
  writer.start();
  ASSERT_EQ(writer.allocate_slots(9), AllocResult::kOk);
  SequenceBlocks reader(pool, prompt, "");
  const StartResult start = reader.start();
  ASSERT_EQ(start.status, StartStatus::kMustWait);

  writer.release();  // cancelled before its forward step
  EXPECT_EQ(pool.state(start.wait_for), HashState::kAbsent);
  EXPECT_EQ(pool.free_blocks(), 16);
  EXPECT_EQ(pool.cached_blocks(), 0);
  expect_invariants(pool, {&writer, &reader});

  const StartResult retry = reader.start();
  EXPECT_EQ(retry.status, StartStatus::kStarted);
  EXPECT_EQ(retry.cached_tokens, 0);
  ASSERT_EQ(reader.allocate_slots(9), AllocResult::kOk);
  // Now the reader is the one computing, and others wait for it.
  EXPECT_EQ(pool.state(start.wait_for), HashState::kPending);
  EXPECT_EQ(pool.find(start.wait_for), reader.block_table()[0]);
  reader.commit(9);
  EXPECT_EQ(pool.state(start.wait_for), HashState::kReady);
  expect_invariants(pool, {&reader});
}

TEST(SequenceBlocks, GeneratedTokensFillBlocksThatLaterTurnsReuse) {
  BlockPool pool(16, kBlockTokens);
  const auto prompt = tokens(6);
  SequenceBlocks turn1(pool, prompt, "s");
  turn1.start();
  compute_all(turn1);
  // Decode: each sampled token is appended, then computed in the next step.
  std::vector<KvTokenId> history = prompt;
  for (KvTokenId token = 100; token < 105; ++token) {
    turn1.append_token(token);
    history.push_back(token);
    ASSERT_EQ(turn1.allocate_slots(1), AllocResult::kOk);
    turn1.commit(1);
    expect_invariants(pool, {&turn1});
  }
  EXPECT_EQ(turn1.n_computed_tokens(), 11);
  // Blocks 0 and 1 (positions 0..7) are complete and published.
  EXPECT_TRUE(pool.is_ready(turn1.block_table()[1]));
  EXPECT_FALSE(pool.indexed_hash(turn1.block_table()[2]).has_value());
  turn1.release();
  // The partial block went back to the plain free list.
  EXPECT_EQ(pool.cached_blocks(), 2);

  // The next turn's prompt is the whole history plus new text.
  history.push_back(7);
  history.push_back(8);
  SequenceBlocks turn2(pool, history, "s");
  EXPECT_EQ(turn2.start().cached_tokens, 8);
  expect_invariants(pool, {&turn2});
}

TEST(SequenceBlocks, AllocationFailureTakesNothingAndPreemptionResumesFromCache) {
  BlockPool pool(4, kBlockTokens);
  SequenceBlocks big(pool, tokens(20), "");
  big.start();
  EXPECT_EQ(big.blocks_needed(20), 5);
  EXPECT_EQ(big.allocate_slots(20), AllocResult::kNoBlock);
  EXPECT_TRUE(big.block_table().empty());
  EXPECT_EQ(pool.free_blocks(), 4);
  ASSERT_EQ(big.allocate_slots(12), AllocResult::kOk);
  big.commit(12);

  SequenceBlocks other(pool, tokens(6, 500), "");
  other.start();
  EXPECT_EQ(other.allocate_slots(6), AllocResult::kNoBlock);
  // The scheduler preempts `big` (recompute preemption) and retries.
  big.release();
  EXPECT_EQ(pool.cached_blocks(), 3);
  // The last plain free block, then the deepest cached block of `big`.
  ASSERT_EQ(other.allocate_slots(6), AllocResult::kOk);
  other.commit(6);
  EXPECT_EQ(pool.stats().evicted_blocks, 1u);
  expect_invariants(pool, {&big, &other});
  other.release();

  // `big` resumes: what survived eviction is its prefix.
  const StartResult resumed = big.start();
  EXPECT_EQ(resumed.status, StartStatus::kStarted);
  EXPECT_EQ(resumed.cached_tokens, 8);
  expect_invariants(pool, {&big, &other});
}

TEST(SequenceBlocks, ConcurrentMissesComputePrivateCopies) {
  BlockPool pool(16, kBlockTokens);
  const auto prompt = tokens(9);
  SequenceBlocks a(pool, prompt, "");
  SequenceBlocks b(pool, prompt, "");
  // Both look up before either claims a block: both compute.
  a.start();
  b.start();
  compute_all(a);
  compute_all(b);
  EXPECT_EQ(pool.find(a.full_block_hashes()[0]), a.block_table()[0]);
  EXPECT_FALSE(pool.indexed_hash(b.block_table()[0]).has_value());
  expect_invariants(pool, {&a, &b});
  a.release();
  b.release();
  EXPECT_EQ(pool.cached_blocks(), 2);
  expect_invariants(pool, {});
}

TEST(SequenceBlocks, RejectsMisuseAndReleasesOnDestruction) {
  BlockPool pool(8, kBlockTokens);
  {
    SequenceBlocks seq(pool, tokens(10), "");
    EXPECT_THROW(seq.allocate_slots(1), Error);
    EXPECT_THROW(seq.commit(1), Error);
    seq.start();
    EXPECT_THROW(seq.start(), Error);
    EXPECT_THROW(seq.allocate_slots(11), Error);  // more than the known tokens
    EXPECT_THROW(seq.allocate_slots(-1), Error);
    ASSERT_EQ(seq.allocate_slots(5), AllocResult::kOk);
    EXPECT_THROW(seq.commit(9), Error);  // past the allocated positions
    seq.commit(5);
    SequenceBlocks moved(std::move(seq));
    EXPECT_EQ(moved.block_table().size(), 2u);
    EXPECT_TRUE(seq.block_table().empty());
    EXPECT_EQ(pool.used_blocks(), 2);
  }
  EXPECT_EQ(pool.used_blocks(), 0);
  EXPECT_EQ(pool.cached_blocks(), 1);
  std::vector<std::span<const BlockId>> none;
  EXPECT_NO_THROW(pool.check_invariants(none));
}

}  // namespace
}  // namespace tether::kv
