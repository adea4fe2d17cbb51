#pragma once

// A chain of full KV blocks of 4 tokens with their hashes and contents, as a
// sequence registers them: shared by the kv tests.

#include <numeric>
#include <span>
#include <string_view>
#include <vector>

#include "kv/block_hash.h"
#include "kv/block_pool.h"

namespace tether::kv::test_support {

inline constexpr int kChainBlockTokens = 4;

struct Chain {
  std::vector<KvTokenId> tokens;
  std::vector<BlockHash> hashes;
  SaltHash salt;

  Chain(int n_blocks, KvTokenId first, std::string_view salt_text = "")
      : salt(hash_salt(salt_text)) {
    tokens.resize(static_cast<size_t>(n_blocks * kChainBlockTokens));
    std::iota(tokens.begin(), tokens.end(), first);
    BlockHash parent = kRootBlockHash;
    for (int block_idx = 0; block_idx < n_blocks; ++block_idx) {
      parent = hash_block(parent, block_tokens(block_idx), salt);
      hashes.push_back(parent);
    }
  }
  std::span<const KvTokenId> block_tokens(int block_idx) const {
    return std::span(tokens).subspan(static_cast<size_t>(block_idx * kChainBlockTokens), kChainBlockTokens);
  }
  BlockContent content(int block_idx) const {
    return {block_idx == 0 ? kRootBlockHash : hashes[static_cast<size_t>(block_idx) - 1], salt,
            block_tokens(block_idx)};
  }
};

}  // namespace tether::kv::test_support
