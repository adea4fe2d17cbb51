#include "kv/block_pool.h"

#include <algorithm>

#include "common/error.h"

namespace tether::kv {

BlockPool::BlockPool(int32_t n_blocks, int32_t block_tokens) : block_tokens_(block_tokens) {
  if (n_blocks <= 0 || block_tokens <= 0) {
    throw_error(ErrorCode::kInvalidArgument,
                "kv block pool: sizes must be positive (blocks {}, block tokens {})", n_blocks,
                block_tokens);
  }
  blocks_.resize(static_cast<size_t>(n_blocks));
  token_ids_.resize(static_cast<size_t>(n_blocks) * static_cast<size_t>(block_tokens));
  index_.reserve(static_cast<size_t>(n_blocks));
  // A stack popped from the back: block 0 is handed out first.
  free_list_.reserve(static_cast<size_t>(n_blocks));
  for (int32_t block_idx = n_blocks - 1; block_idx >= 0; --block_idx) {
    free_list_.push_back(BlockId{block_idx});
  }
}

void BlockPool::check_block(BlockId block) const {
  if (to_index(block) < 0 || to_index(block) >= n_blocks()) {
    throw_error(ErrorCode::kInvalidArgument, "kv block pool: block {} is outside [0, {})",
                to_index(block), n_blocks());
  }
}

BlockPool::BlockMeta& BlockPool::meta(BlockId block) {
  check_block(block);
  return blocks_[static_cast<size_t>(to_index(block))];
}

const BlockPool::BlockMeta& BlockPool::meta(BlockId block) const {
  check_block(block);
  return blocks_[static_cast<size_t>(to_index(block))];
}

void BlockPool::lru_push_back(int32_t block_idx) {
  BlockMeta& m = blocks_[static_cast<size_t>(block_idx)];
  m.in_lru = true;
  m.lru_prev = lru_tail_;
  m.lru_next = kNone;
  if (lru_tail_ == kNone) {
    lru_head_ = block_idx;
  } else {
    blocks_[static_cast<size_t>(lru_tail_)].lru_next = block_idx;
  }
  lru_tail_ = block_idx;
  ++lru_size_;
}

void BlockPool::lru_remove(int32_t block_idx) {
  BlockMeta& m = blocks_[static_cast<size_t>(block_idx)];
  if (m.lru_prev == kNone) {
    lru_head_ = m.lru_next;
  } else {
    blocks_[static_cast<size_t>(m.lru_prev)].lru_next = m.lru_next;
  }
  if (m.lru_next == kNone) {
    lru_tail_ = m.lru_prev;
  } else {
    blocks_[static_cast<size_t>(m.lru_next)].lru_prev = m.lru_prev;
  }
  m.in_lru = false;
  m.lru_prev = m.lru_next = kNone;
  --lru_size_;
}

void BlockPool::index(BlockId block, BlockHash hash, const BlockContent& content, bool ready) {
  if (content.tokens.size() != static_cast<size_t>(block_tokens_)) {
    throw_error(ErrorCode::kInvalidArgument,
                "kv block pool: block {} indexed with {} tokens, a full block holds {}",
                to_index(block), content.tokens.size(), block_tokens_);
  }
  BlockMeta& m = meta(block);
  index_.emplace(hash, block);
  m.indexed = true;
  m.ready = ready;
  m.hash = hash;
  m.parent = content.parent;
  m.salt = content.salt;
  std::copy(content.tokens.begin(), content.tokens.end(),
            token_ids_.begin() + static_cast<ptrdiff_t>(to_index(block)) * block_tokens_);
}

void BlockPool::unindex(BlockId block) {
  BlockMeta& m = meta(block);
  index_.erase(m.hash);
  m.indexed = false;
  m.ready = false;
  m.hash = BlockHash{};
}

std::optional<BlockId> BlockPool::allocate() {
  BlockId block;
  if (!free_list_.empty()) {
    block = free_list_.back();
    free_list_.pop_back();
  } else if (lru_head_ != kNone) {
    block = BlockId{lru_head_};
    lru_remove(lru_head_);
    unindex(block);
    ++stats_.evicted_blocks;
  } else {
    return std::nullopt;
  }
  meta(block).ref_count = 1;
  return block;
}

void BlockPool::acquire(BlockId block) {
  BlockMeta& m = meta(block);
  if (!m.ready) {
    throw_error(ErrorCode::kInvalidArgument,
                "kv block pool: block {} cannot be shared: it holds no ready KV", to_index(block));
  }
  if (m.in_lru) lru_remove(to_index(block));
  ++m.ref_count;
}

void BlockPool::release(BlockId block) {
  BlockMeta& m = meta(block);
  if (m.ref_count <= 0) {
    throw_error(ErrorCode::kInvalidArgument, "kv block pool: block {} released but not held",
                to_index(block));
  }
  if (--m.ref_count > 0) return;
  if (m.indexed && m.ready) {
    lru_push_back(to_index(block));
    return;
  }
  // Pending KV that will never be finished must not keep waiters waiting.
  if (m.indexed) unindex(block);
  free_list_.push_back(block);
}

HashState BlockPool::state(BlockHash hash) const {
  auto it = index_.find(hash);
  if (it == index_.end()) return HashState::kAbsent;
  return meta(it->second).ready ? HashState::kReady : HashState::kPending;
}

std::optional<BlockId> BlockPool::find(BlockHash hash) const {
  auto it = index_.find(hash);
  if (it == index_.end()) return std::nullopt;
  return it->second;
}

std::optional<BlockHash> BlockPool::indexed_hash(BlockId block) const {
  const BlockMeta& m = meta(block);
  if (!m.indexed) return std::nullopt;
  return m.hash;
}

PrefixMatch BlockPool::match_prefix(std::span<const BlockHash> chain) const {
  PrefixMatch match;
  for (BlockHash hash : chain) {
    auto it = index_.find(hash);
    if (it == index_.end()) break;
    if (!meta(it->second).ready) {
      match.wait_for = hash;
      break;
    }
    ++match.ready_blocks;
  }
  return match;
}

bool BlockPool::index_pending(BlockId block, BlockHash hash, const BlockContent& content) {
  const BlockMeta& m = meta(block);
  if (m.ref_count <= 0 || m.indexed) {
    throw_error(ErrorCode::kInvalidArgument,
                "kv block pool: block {} must be in use and unindexed to become pending",
                to_index(block));
  }
  if (index_.contains(hash)) return false;
  index(block, hash, content, /*ready=*/false);
  return true;
}

bool BlockPool::publish(BlockId block, BlockHash hash, const BlockContent& content) {
  BlockMeta& m = meta(block);
  if (m.ref_count <= 0) {
    throw_error(ErrorCode::kInvalidArgument, "kv block pool: block {} published but not held",
                to_index(block));
  }
  if (m.indexed) {
    if (m.hash != hash) {
      throw_error(ErrorCode::kInvalidArgument,
                  "kv block pool: block {} published under a hash it is not indexed with",
                  to_index(block));
    }
    m.ready = true;
    return true;
  }
  if (index_.contains(hash)) return false;
  index(block, hash, content, /*ready=*/true);
  return true;
}

BlockContent BlockPool::content(BlockId block) const {
  const BlockMeta& m = meta(block);
  if (!m.indexed) {
    throw_error(ErrorCode::kInvalidArgument, "kv block pool: block {} is not indexed",
                to_index(block));
  }
  return {m.parent, m.salt,
          std::span<const KvTokenId>(token_ids_)
              .subspan(static_cast<size_t>(to_index(block)) * static_cast<size_t>(block_tokens_),
                       static_cast<size_t>(block_tokens_))};
}

void BlockPool::record_query(int32_t tokens, int32_t eligible_blocks, int32_t hit_blocks) {
  ++stats_.queries;
  stats_.query_tokens += static_cast<uint64_t>(tokens);
  stats_.query_blocks += static_cast<uint64_t>(eligible_blocks);
  stats_.hit_blocks += static_cast<uint64_t>(hit_blocks);
  stats_.hit_tokens += static_cast<uint64_t>(hit_blocks) * static_cast<uint64_t>(block_tokens_);
}

KvCacheStats BlockPool::stats() const {
  KvCacheStats stats = stats_;
  stats.total_blocks = n_blocks();
  stats.used_blocks = used_blocks();
  stats.free_blocks = free_blocks();
  stats.cached_blocks = cached_blocks();
  return stats;
}

void BlockPool::check_invariants(std::span<const std::span<const BlockId>> tables) const {
  const int32_t n = n_blocks();

  std::vector<int32_t> references(static_cast<size_t>(n), 0);
  std::vector<int32_t> last_table(static_cast<size_t>(n), -1);
  for (size_t table_idx = 0; table_idx < tables.size(); ++table_idx) {
    for (BlockId block : tables[table_idx]) {
      const int32_t block_idx = to_index(block);
      if (block_idx < 0 || block_idx >= n)
        throw_error(ErrorCode::kInternal, "kv invariant: table {} names block {}", table_idx,
                    block_idx);
      if (last_table[static_cast<size_t>(block_idx)] == static_cast<int32_t>(table_idx)) {
        throw_error(ErrorCode::kInternal, "kv invariant: table {} names block {} twice", table_idx,
                    block_idx);
      }
      last_table[static_cast<size_t>(block_idx)] = static_cast<int32_t>(table_idx);
      ++references[static_cast<size_t>(block_idx)];
    }
  }

  // Where each block sits: 0 nowhere yet, 1 plain free list, 2 LRU list.
  std::vector<uint8_t> place(static_cast<size_t>(n), 0);
  for (BlockId block : free_list_) {
    const int32_t block_idx = to_index(block);
    if (block_idx < 0 || block_idx >= n || place[static_cast<size_t>(block_idx)] != 0) {
      throw_error(ErrorCode::kInternal,
                  "kv invariant: free list holds block {} twice or out of range", block_idx);
    }
    place[static_cast<size_t>(block_idx)] = 1;
  }
  int32_t lru_count = 0;
  int32_t prev = kNone;
  for (int32_t block_idx = lru_head_; block_idx != kNone;
       block_idx = blocks_[static_cast<size_t>(block_idx)].lru_next) {
    if (block_idx < 0 || block_idx >= n || place[static_cast<size_t>(block_idx)] != 0 ||
        ++lru_count > n) {
      throw_error(ErrorCode::kInternal,
                  "kv invariant: LRU list revisits block {} or is out of range", block_idx);
    }
    if (blocks_[static_cast<size_t>(block_idx)].lru_prev != prev) {
      throw_error(ErrorCode::kInternal, "kv invariant: LRU back link of block {} is broken",
                  block_idx);
    }
    place[static_cast<size_t>(block_idx)] = 2;
    prev = block_idx;
  }
  if (prev != lru_tail_ || lru_count != lru_size_) {
    throw_error(ErrorCode::kInternal, "kv invariant: LRU list has {} blocks, size says {}",
                lru_count, lru_size_);
  }

  int32_t used = 0;
  size_t indexed = 0;
  for (int32_t block_idx = 0; block_idx < n; ++block_idx) {
    const BlockMeta& m = blocks_[static_cast<size_t>(block_idx)];
    const int32_t refs = references[static_cast<size_t>(block_idx)];
    const uint8_t where = place[static_cast<size_t>(block_idx)];
    if (m.ref_count != refs) {
      throw_error(ErrorCode::kInternal,
                  "kv invariant: block {} has ref count {} but {} table references", block_idx,
                  m.ref_count, refs);
    }
    if (refs > 0 && where != 0)
      throw_error(ErrorCode::kInternal, "kv invariant: block {} is referenced and free", block_idx);
    if (refs == 0 && where == 0)
      throw_error(ErrorCode::kInternal, "kv invariant: block {} leaked (unreferenced, not free)",
                  block_idx);
    if ((where == 2) != m.in_lru)
      throw_error(ErrorCode::kInternal, "kv invariant: block {} in_lru flag is wrong", block_idx);
    if (where == 2 && !(m.indexed && m.ready)) {
      throw_error(ErrorCode::kInternal, "kv invariant: cached block {} is not indexed and ready",
                  block_idx);
    }
    if (where == 1 && m.indexed)
      throw_error(ErrorCode::kInternal, "kv invariant: plain free block {} is indexed", block_idx);
    if (m.ready && !m.indexed)
      throw_error(ErrorCode::kInternal, "kv invariant: block {} ready but unindexed", block_idx);
    if (m.indexed && !m.ready && m.ref_count != 1) {
      throw_error(ErrorCode::kInternal, "kv invariant: pending block {} has {} references, not 1",
                  block_idx, m.ref_count);
    }
    if (m.indexed) {
      ++indexed;
      auto it = index_.find(m.hash);
      if (it == index_.end() || to_index(it->second) != block_idx) {
        throw_error(ErrorCode::kInternal,
                    "kv invariant: block {} is indexed but the index does not map its hash to it",
                    block_idx);
      }
      const BlockContent c = content(BlockId{block_idx});
      if (hash_block(c.parent, c.tokens, c.salt) != m.hash) {
        throw_error(ErrorCode::kInternal,
                    "kv invariant: block {} content does not hash to its index hash", block_idx);
      }
    }
    if (refs > 0) ++used;
  }
  if (indexed != index_.size()) {
    throw_error(ErrorCode::kInternal, "kv invariant: index holds {} hashes, {} blocks are indexed",
                index_.size(), indexed);
  }
  if (used != used_blocks() || used + free_blocks() != n) {
    throw_error(ErrorCode::kInternal, "kv invariant: {} used + {} free != {} total", used,
                free_blocks(), n);
  }
}

}  // namespace tether::kv
