#include "kv/block_hash.h"

#include <gtest/gtest.h>

#include <numeric>
#include <vector>

namespace tether::kv {
namespace {

std::vector<KvTokenId> iota_tokens(int n, KvTokenId first) {
  std::vector<KvTokenId> tokens(static_cast<size_t>(n));
  std::iota(tokens.begin(), tokens.end(), first);
  return tokens;
}

constexpr uint64_t kPinnedEmptySalt = 14784773503921108823ull;
constexpr uint64_t kPinnedFirstBlock = 9451912787568399582ull;

TEST(BlockHash, IsDeterministicAndPinned) {
  const auto tokens = iota_tokens(16, 100);
  const SaltHash salt = hash_salt("tenant-a");
  EXPECT_EQ(hash_block(kRootBlockHash, tokens, salt), hash_block(kRootBlockHash, tokens, salt));
  EXPECT_EQ(hash_salt("tenant-a"), salt);
  // Pinned values: a persistent cache keys blocks by these, so the byte
  // layout and seeds must not change silently.
  EXPECT_EQ(to_value(hash_salt("")), kPinnedEmptySalt);
  EXPECT_EQ(to_value(hash_block(kRootBlockHash, tokens, hash_salt(""))), kPinnedFirstBlock);
}

TEST(BlockHash, ChainsFromTheParent) {
  const auto tokens = iota_tokens(16, 7);
  const SaltHash salt = hash_salt("");
  const BlockHash first = hash_block(kRootBlockHash, tokens, salt);
  // Same block tokens after a different prefix: a different hash.
  const BlockHash after_first = hash_block(first, tokens, salt);
  const BlockHash after_other =
      hash_block(hash_block(kRootBlockHash, iota_tokens(16, 8), salt), tokens, salt);
  EXPECT_NE(first, after_first);
  EXPECT_NE(after_first, after_other);
  EXPECT_NE(first, after_other);
}

TEST(BlockHash, CoversEveryTokenTheirOrderAndTheSalt) {
  const auto tokens = iota_tokens(16, 0);
  const SaltHash salt = hash_salt("a");
  const BlockHash base = hash_block(kRootBlockHash, tokens, salt);
  for (size_t token_idx = 0; token_idx < tokens.size(); ++token_idx) {
    auto changed = tokens;
    changed[token_idx] += 1;
    EXPECT_NE(hash_block(kRootBlockHash, changed, salt), base) << token_idx;
  }
  auto swapped = tokens;
  std::swap(swapped[3], swapped[4]);
  EXPECT_NE(hash_block(kRootBlockHash, swapped, salt), base);
  EXPECT_NE(hash_salt("a"), hash_salt("b"));
  EXPECT_NE(hash_salt("a"), hash_salt(""));
  EXPECT_NE(hash_block(kRootBlockHash, tokens, hash_salt("b")), base);
  // Negative ids and the sign bit are hashed as their 32-bit patterns.
  auto negative = tokens;
  negative[0] = -1;
  EXPECT_NE(hash_block(kRootBlockHash, negative, salt), base);
}

TEST(BlockHash, LargeBlocksHashEveryToken) {
  // Blocks longer than the stack buffer take another path.
  const auto tokens = iota_tokens(200, 5);
  const SaltHash salt = hash_salt("x");
  const BlockHash base = hash_block(kRootBlockHash, tokens, salt);
  EXPECT_EQ(hash_block(kRootBlockHash, tokens, salt), base);
  auto changed = tokens;
  changed.back() = 0;
  EXPECT_NE(hash_block(kRootBlockHash, changed, salt), base);
  EXPECT_NE(hash_block(kRootBlockHash, std::span(tokens).first(64), salt), base);
}

}  // namespace
}  // namespace tether::kv
