#include "kv/sequence_blocks.h"

#include <algorithm>
#include <utility>

#include "common/error.h"

namespace tether::kv {

SequenceBlocks::SequenceBlocks(BlockPool& pool, std::span<const KvTokenId> prompt,
                               std::string_view salt)
    : pool_(&pool), block_tokens_(pool.block_tokens()), salt_(hash_salt(salt)) {
  tokens_.reserve(prompt.size());
  for (KvTokenId token : prompt) append_token(token);
}

SequenceBlocks::~SequenceBlocks() {
  if (pool_ != nullptr) release();
}

SequenceBlocks::SequenceBlocks(SequenceBlocks&& other) noexcept
    : pool_(std::exchange(other.pool_, nullptr)),
      block_tokens_(other.block_tokens_),
      salt_(other.salt_),
      tokens_(std::move(other.tokens_)),
      hashes_(std::move(other.hashes_)),
      table_(std::move(other.table_)),
      started_(std::exchange(other.started_, false)),
      computed_tokens_(std::exchange(other.computed_tokens_, 0)),
      published_blocks_(std::exchange(other.published_blocks_, 0)),
      cached_tokens_(other.cached_tokens_) {
  other.table_.clear();
}

SequenceBlocks& SequenceBlocks::operator=(SequenceBlocks&& other) noexcept {
  if (this != &other) {
    if (pool_ != nullptr) release();
    pool_ = std::exchange(other.pool_, nullptr);
    block_tokens_ = other.block_tokens_;
    salt_ = other.salt_;
    tokens_ = std::move(other.tokens_);
    hashes_ = std::move(other.hashes_);
    table_ = std::move(other.table_);
    other.table_.clear();
    started_ = std::exchange(other.started_, false);
    computed_tokens_ = std::exchange(other.computed_tokens_, 0);
    published_blocks_ = std::exchange(other.published_blocks_, 0);
    cached_tokens_ = other.cached_tokens_;
  }
  return *this;
}

BlockContent SequenceBlocks::block_content(int32_t block_idx) const {
  return {block_idx == 0 ? kRootBlockHash : hashes_[static_cast<size_t>(block_idx) - 1], salt_,
          std::span<const KvTokenId>(tokens_).subspan(
              static_cast<size_t>(block_idx) * static_cast<size_t>(block_tokens_),
              static_cast<size_t>(block_tokens_))};
}

void SequenceBlocks::check_started(const char* operation) const {
  if (pool_ == nullptr || !started_) {
    throw_error(ErrorCode::kInvalidArgument, "kv sequence: {} before start()", operation);
  }
}

void SequenceBlocks::append_token(KvTokenId token) {
  tokens_.push_back(token);
  if (tokens_.size() % static_cast<size_t>(block_tokens_) == 0) {
    const int32_t block_idx = static_cast<int32_t>(hashes_.size());
    const BlockContent content = block_content(block_idx);
    hashes_.push_back(hash_block(content.parent, content.tokens, content.salt));
  }
}

StartResult SequenceBlocks::start() {
  if (pool_ == nullptr || started_) {
    throw_error(ErrorCode::kInvalidArgument, "kv sequence: start() on a started sequence");
  }
  // Reusing every token would leave nothing to run the model on, and the
  // next token's logits come from the last prompt position.
  const int32_t n = n_tokens();
  const int32_t max_blocks = n > 0 ? (n - 1) / block_tokens_ : 0;
  const PrefixMatch match = pool_->match_prefix(
      std::span<const BlockHash>(hashes_).first(static_cast<size_t>(max_blocks)));
  if (match.wait_for) {
    pool_->record_wait();
    return {StartStatus::kMustWait, 0, *match.wait_for};
  }
  table_.reserve(static_cast<size_t>(n / block_tokens_ + 1));
  for (int32_t block_idx = 0; block_idx < match.ready_blocks; ++block_idx) {
    const BlockId block = *pool_->find(hashes_[static_cast<size_t>(block_idx)]);
    pool_->acquire(block);
    table_.push_back(block);
  }
  started_ = true;
  published_blocks_ = match.ready_blocks;
  computed_tokens_ = cached_tokens_ = match.ready_blocks * block_tokens_;
  pool_->record_query(n, max_blocks, match.ready_blocks);
  return {StartStatus::kStarted, cached_tokens_, BlockHash{}};
}

int32_t SequenceBlocks::blocks_needed(int32_t n_new_tokens) const {
  const int64_t target = static_cast<int64_t>(computed_tokens_) + std::max(n_new_tokens, 0);
  const int64_t blocks = (target + block_tokens_ - 1) / block_tokens_;
  return static_cast<int32_t>(std::max<int64_t>(blocks - static_cast<int64_t>(table_.size()), 0));
}

AllocResult SequenceBlocks::allocate_slots(int32_t n_new_tokens) {
  check_started("allocate_slots()");
  if (n_new_tokens < 0 || n_new_tokens > n_tokens() - computed_tokens_) {
    throw_error(ErrorCode::kInvalidArgument,
                "kv sequence: {} new tokens requested, {} known tokens are not computed",
                n_new_tokens, n_tokens() - computed_tokens_);
  }
  const int32_t needed = blocks_needed(n_new_tokens);
  if (needed > pool_->free_blocks()) return AllocResult::kNoBlock;
  for (int32_t k = 0; k < needed; ++k) {
    const int32_t block_idx = static_cast<int32_t>(table_.size());
    const BlockId block = *pool_->allocate();
    table_.push_back(block);
    // A block whose tokens are all known (a prompt block) announces its hash
    // now, so others wait for it. If another block already holds the hash
    // (we missed it at start()), this one is a private copy.
    if (block_idx < static_cast<int32_t>(hashes_.size())) {
      pool_->index_pending(block, hashes_[static_cast<size_t>(block_idx)],
                           block_content(block_idx));
    }
  }
  return AllocResult::kOk;
}

void SequenceBlocks::commit(int32_t n_new_tokens) {
  check_started("commit()");
  const int64_t target = static_cast<int64_t>(computed_tokens_) + n_new_tokens;
  if (n_new_tokens < 0 || target > n_tokens() ||
      target > static_cast<int64_t>(table_.size()) * block_tokens_) {
    throw_error(ErrorCode::kInvalidArgument,
                "kv sequence: commit of {} tokens past the {} allocated positions", n_new_tokens,
                static_cast<int64_t>(table_.size()) * block_tokens_ - computed_tokens_);
  }
  computed_tokens_ = static_cast<int32_t>(target);
  for (; (published_blocks_ + 1) * block_tokens_ <= computed_tokens_; ++published_blocks_) {
    pool_->publish(table_[static_cast<size_t>(published_blocks_)],
                   hashes_[static_cast<size_t>(published_blocks_)],
                   block_content(published_blocks_));
  }
}

void SequenceBlocks::release() {
  if (pool_ == nullptr) return;
  for (auto it = table_.rbegin(); it != table_.rend(); ++it) pool_->release(*it);
  table_.clear();
  started_ = false;
  computed_tokens_ = 0;
  published_blocks_ = 0;
}

void SequenceBlocks::check_invariants() const {
  const int64_t covered = static_cast<int64_t>(table_.size()) * block_tokens_;
  if (hashes_.size() != tokens_.size() / static_cast<size_t>(block_tokens_)) {
    throw_error(ErrorCode::kInternal, "kv sequence: {} block hashes for {} tokens", hashes_.size(),
                tokens_.size());
  }
  if (!started_ && (!table_.empty() || computed_tokens_ != 0)) {
    throw_error(ErrorCode::kInternal, "kv sequence: holds blocks while not started");
  }
  if (computed_tokens_ > n_tokens() || computed_tokens_ > covered ||
      covered >= static_cast<int64_t>(n_tokens()) + block_tokens_) {
    throw_error(ErrorCode::kInternal, "kv sequence: {} computed of {} tokens, {} blocks",
                computed_tokens_, n_tokens(), table_.size());
  }
  if (published_blocks_ != computed_tokens_ / block_tokens_) {
    throw_error(ErrorCode::kInternal, "kv sequence: {} blocks published, {} full computed",
                published_blocks_, computed_tokens_ / block_tokens_);
  }
  if (pool_ == nullptr) return;
  for (size_t block_idx = 0; block_idx < table_.size(); ++block_idx) {
    const BlockId block = table_[block_idx];
    if (pool_->ref_count(block) < 1) {
      throw_error(ErrorCode::kInternal, "kv sequence: table block {} holds no reference",
                  to_index(block));
    }
    const std::optional<BlockHash> hash = pool_->indexed_hash(block);
    if (!hash) continue;  // a private copy, or a partial block
    const bool published = static_cast<int32_t>(block_idx) < published_blocks_;
    if (block_idx >= hashes_.size() || *hash != hashes_[block_idx] ||
        pool_->is_ready(block) != published) {
      throw_error(ErrorCode::kInternal,
                  "kv sequence: block {} (table slot {}) is indexed under the wrong hash or state",
                  to_index(block), block_idx);
    }
  }
}

}  // namespace tether::kv
