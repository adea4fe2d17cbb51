#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

#include "kv/block_hash.h"
#include "kv/kv_block_storage.h"

namespace tether::kv {

inline constexpr int32_t kDefaultBlockTokens = 16;

// What the prefix index knows about a hash.
enum class HashState {
  kAbsent,   // no block holds it: compute it
  kPending,  // a running sequence is computing it now: wait for it
  kReady,    // a block holds its KV: reuse it
};

// Result of looking a chain of block hashes up in the prefix index.
struct PrefixMatch {
  int32_t ready_blocks = 0;  // leading hashes whose blocks are ready
  // Set when the hash right after the ready ones is pending: the caller
  // should wait for it rather than compute the same KV a second time.
  std::optional<BlockHash> wait_for;
};

// What a full block holds, besides its KV: enough to recompute its hash and,
// later, to persist it (hash + parent + salt + token ids identify the block).
struct BlockContent {
  BlockHash parent = kRootBlockHash;
  SaltHash salt{};
  std::span<const KvTokenId> tokens;  // exactly block_tokens ids
};

// Accounting of one engine's KV cache.
struct KvCacheStats {
  // Counters since construction.
  uint64_t queries = 0;         // prefix lookups that started a sequence
  uint64_t query_tokens = 0;    // tokens those sequences brought
  uint64_t query_blocks = 0;    // full blocks among them that were eligible for reuse
  uint64_t hit_tokens = 0;      // tokens served from the cache (not recomputed)
  uint64_t hit_blocks = 0;      // blocks served from the cache
  uint64_t waits = 0;           // lookups told to wait for a block being computed
  uint64_t evicted_blocks = 0;  // cached blocks whose hash was dropped to reuse them
  // Gauges now: used + free == total; cached blocks are part of free.
  int32_t total_blocks = 0;
  int32_t used_blocks = 0;    // referenced by at least one sequence
  int32_t free_blocks = 0;    // allocatable: never-hashed plus cached
  int32_t cached_blocks = 0;  // unreferenced but still indexed (reusable by hash)
};

// Metadata of a paged KV cache: reference counts of n_blocks blocks of
// block_tokens positions, the prefix index (hash -> block) and eviction.
// The KV bytes live in a KvBlockStorage indexed by the same BlockIds; this
// class never touches them.
//
// Every block is in exactly one of three places:
//  - in use: referenced by ref_count > 0 block tables;
//  - the plain free list: unreferenced and not indexed (LIFO);
//  - the LRU list: unreferenced, indexed and ready ("cached"). allocate()
//    takes plain free blocks first and evicts the LRU front only when none is
//    left. Releasing a sequence's table deepest block first (as
//    SequenceBlocks does) puts a chain's deeper blocks ahead of its parents,
//    so eviction takes the least recently used chain first and, within it,
//    the deepest block first, and a chain's prefix stays usable while its
//    tail goes. (A child can outlive its parent only when two sequences
//    missed the same parent at once and one computed a private copy; the
//    orphan is unreachable by lookup and simply ages out.)
//
// An indexed block is pending while its KV is being computed (its only
// reference is the computing sequence) and ready once publish() says the KV
// is written. A pending block released before it is published is dropped
// from the index, so no one waits for it forever.
//
// Not thread-safe: one scheduler thread owns it. Operations are O(1)
// (hash lookups amortized) except check_invariants().
class BlockPool {
 public:
  // Throws Error(kInvalidArgument) unless both sizes are positive.
  BlockPool(int32_t n_blocks, int32_t block_tokens = kDefaultBlockTokens);

  int32_t n_blocks() const { return static_cast<int32_t>(blocks_.size()); }
  int32_t block_tokens() const { return block_tokens_; }
  // Blocks allocate() can hand out now (plain free plus cached).
  int32_t free_blocks() const { return static_cast<int32_t>(free_list_.size()) + lru_size_; }
  int32_t cached_blocks() const { return lru_size_; }
  int32_t used_blocks() const { return n_blocks() - free_blocks(); }
  int32_t ref_count(BlockId block) const { return meta(block).ref_count; }

  // A block with one reference and no hash: a plain free block if any, else
  // the least recently used cached block (its hash is dropped: an eviction).
  // nullopt when every block is in use: the caller preempts someone.
  std::optional<BlockId> allocate();

  // One more reference to a ready block (in use or cached; a cached block
  // leaves the LRU list). Throws Error(kInvalidArgument) for a free or
  // pending block.
  void acquire(BlockId block);

  // Drops one reference. At zero a ready indexed block becomes cached (LRU
  // back), a pending one is un-indexed, and either way an unindexed block
  // goes to the plain free list. Throws Error(kInvalidArgument) when the
  // block holds no reference.
  void release(BlockId block);

  HashState state(BlockHash hash) const;
  // The block indexed under `hash` (pending or ready).
  std::optional<BlockId> find(BlockHash hash) const;
  // The hash `block` is indexed under, if any.
  std::optional<BlockHash> indexed_hash(BlockId block) const;
  bool is_ready(BlockId block) const { return meta(block).ready; }

  // Walks `chain` (hashes of consecutive blocks from the root) while blocks
  // are ready; stops at the first absent or pending one.
  PrefixMatch match_prefix(std::span<const BlockHash> chain) const;

  // Indexes `block` (in use, unindexed) under `hash` as pending: its KV is
  // about to be computed. First writer wins: returns false (and indexes
  // nothing) when the hash is already indexed; the caller then computes a
  // private copy.
  bool index_pending(BlockId block, BlockHash hash, const BlockContent& content);

  // The KV of `block` (in use, full) is written. If it is pending under
  // `hash` it becomes ready; if it is unindexed and `hash` is free it is
  // indexed as ready. Returns whether `block` is now the one indexed under
  // `hash` (false: another block already holds that hash).
  bool publish(BlockId block, BlockHash hash, const BlockContent& content);

  // Parent, salt and token ids an indexed block was registered with (for a
  // persistent cache); the token span stays valid while the block is indexed.
  // Throws Error(kInvalidArgument) for an unindexed block.
  BlockContent content(BlockId block) const;

  // Accounting hooks for SequenceBlocks::start().
  void record_query(int32_t tokens, int32_t eligible_blocks, int32_t hit_blocks);
  void record_wait() { ++stats_.waits; }
  KvCacheStats stats() const;

  // Checks every structural invariant against the complete set of block
  // tables referencing this pool: reference counts equal table references,
  // each block is in exactly one place, used + free == total, the index maps
  // each hash to a block that carries it (and whose content hashes to it),
  // pending blocks have exactly one reference. Throws Error(kInternal)
  // naming the first violation. O(n_blocks + table entries).
  void check_invariants(std::span<const std::span<const BlockId>> tables) const;

 private:
  static constexpr int32_t kNone = -1;

  struct BlockMeta {
    int32_t ref_count = 0;
    int32_t lru_prev = kNone;
    int32_t lru_next = kNone;
    bool in_lru = false;
    bool indexed = false;
    bool ready = false;  // indexed and its KV written
    BlockHash hash{};
    BlockHash parent{};
    SaltHash salt{};
  };

  void check_block(BlockId block) const;
  BlockMeta& meta(BlockId block);
  const BlockMeta& meta(BlockId block) const;
  void index(BlockId block, BlockHash hash, const BlockContent& content, bool ready);
  void unindex(BlockId block);
  void lru_push_back(int32_t block_idx);
  void lru_remove(int32_t block_idx);

  int32_t block_tokens_;
  std::vector<BlockMeta> blocks_;
  std::vector<KvTokenId> token_ids_;  // block_tokens ids per block, valid while indexed
  std::vector<BlockId> free_list_;    // plain free blocks, a stack
  int32_t lru_head_ = kNone;          // least recently used cached block
  int32_t lru_tail_ = kNone;
  int32_t lru_size_ = 0;
  std::unordered_map<BlockHash, BlockId, BlockHashHasher> index_;
  KvCacheStats stats_;
};

}  // namespace tether::kv
