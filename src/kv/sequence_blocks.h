#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "kv/block_hash.h"
#include "kv/block_pool.h"
#include "kv/kv_block_storage.h"

namespace tether::kv {

enum class StartStatus {
  kStarted,   // the sequence holds its cached prefix; compute the rest
  kMustWait,  // another sequence is computing part of the prefix: retry later
};

struct StartResult {
  StartStatus status = StartStatus::kStarted;
  // kStarted: leading positions whose KV came from the cache (a multiple of
  // block_tokens, always less than n_tokens).
  int32_t cached_tokens = 0;
  // kMustWait: the pending block; retry start() once
  // pool.state(wait_for) != HashState::kPending (ready, or dropped because
  // its writer was cancelled, in which case this sequence computes it).
  BlockHash wait_for{};
};

enum class AllocResult {
  kOk,
  kNoBlock,  // the pool cannot supply enough blocks: nothing was allocated
};

// One sequence's view of the paged KV cache: its tokens (prompt, then the
// generated ones), the chained hashes of its full blocks and its block table
// (what the model reads K/V through). The scheduler drives it:
//
//   start()                        look the prefix up, take the cached blocks
//   allocate_slots(n) / commit(n)  around each forward step over the next n
//                                  tokens (a prefill chunk, or one decode token)
//   append_token(t)                after sampling t
//   release()                      finish, cancel or preempt; start() again
//                                  later resumes from the cache
//
// Full prompt blocks are indexed as pending when allocated, so a sequence
// with the same prefix waits for them instead of computing them again; every
// block is published (ready) once commit() covers all its positions. Holds a
// reference to the pool, which must outlive it; the destructor releases.
class SequenceBlocks {
 public:
  // `salt` separates caches: sequences share blocks only under equal salts.
  SequenceBlocks(BlockPool& pool, std::span<const KvTokenId> prompt, std::string_view salt);
  ~SequenceBlocks();
  SequenceBlocks(SequenceBlocks&& other) noexcept;
  SequenceBlocks& operator=(SequenceBlocks&& other) noexcept;
  SequenceBlocks(const SequenceBlocks&) = delete;
  SequenceBlocks& operator=(const SequenceBlocks&) = delete;

  // Takes the longest ready cached chain of the tokens' full blocks, leaving
  // at least one token to compute (the model must produce logits), or says
  // to wait when the chain continues into a pending block (then holds
  // nothing). Counts a query (and hits) in the pool's stats when started.
  // Running sequences announce the blocks of their next prefill chunk when
  // they allocate it, so a scheduler should allocate for running sequences
  // before starting new ones; a newcomer that looks up first finds those
  // blocks absent and computes them too (correct, only wasted work).
  // Throws Error(kInvalidArgument) if already started.
  StartResult start();

  // Blocks allocate_slots(n_new_tokens) would take from the pool.
  int32_t blocks_needed(int32_t n_new_tokens) const;
  // Extends the block table to cover the next n_new_tokens positions (which
  // must be known tokens). All or nothing: kNoBlock when the pool is short.
  AllocResult allocate_slots(int32_t n_new_tokens);
  // The KV of the next n_new_tokens positions is written (they must be
  // allocated); blocks that became full are published to the prefix index.
  void commit(int32_t n_new_tokens);
  // A sampled token; its KV is computed by a later allocate_slots/commit.
  void append_token(KvTokenId token);
  // Drops every block (deepest first, so eviction takes deeper blocks first).
  // Full published blocks stay cached; pending ones are un-indexed.
  void release();

  bool started() const { return started_; }
  int32_t n_tokens() const { return static_cast<int32_t>(tokens_.size()); }
  int32_t n_computed_tokens() const { return computed_tokens_; }
  int32_t n_cached_tokens() const { return cached_tokens_; }  // of the last start()
  std::span<const KvTokenId> tokens() const { return tokens_; }
  std::span<const BlockId> block_table() const { return table_; }
  std::span<const BlockHash> full_block_hashes() const { return hashes_; }
  SaltHash salt_hash() const { return salt_; }

  // Throws Error(kInternal) when the table, the counters and the pool's
  // view of this sequence's blocks disagree.
  void check_invariants() const;

 private:
  BlockContent block_content(int32_t block_idx) const;
  void check_started(const char* operation) const;

  BlockPool* pool_;
  int32_t block_tokens_;
  SaltHash salt_;
  std::vector<KvTokenId> tokens_;
  std::vector<BlockHash> hashes_;  // one per full block of tokens_
  std::vector<BlockId> table_;
  bool started_ = false;
  int32_t computed_tokens_ = 0;
  int32_t published_blocks_ = 0;  // leading blocks already published
  int32_t cached_tokens_ = 0;
};

}  // namespace tether::kv
