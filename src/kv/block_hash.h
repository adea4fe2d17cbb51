#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace tether::kv {

// Token ids as the model's vocabulary numbers them. The same type as
// tokenizer::TokenId, spelled out here because kv depends on no other module.
using KvTokenId = int32_t;

// 64-bit chained hash of one full block: it covers the block's token ids, the
// hash of the block before it (so equal hashes mean equal whole prefixes, not
// just equal blocks) and the sequence's cache salt (so tenants with different
// salts never share blocks). XXH3 over a fixed little-endian byte layout, so
// values are stable across runs and machines (a persistent cache relies on it).
enum class BlockHash : uint64_t {};
inline constexpr uint64_t to_value(BlockHash hash) { return static_cast<uint64_t>(hash); }

// The salt string hashed once per sequence, then folded into every block hash.
enum class SaltHash : uint64_t {};
inline constexpr uint64_t to_value(SaltHash hash) { return static_cast<uint64_t>(hash); }

// The parent of a sequence's first block ("tether-k" in ASCII; any fixed value works).
inline constexpr BlockHash kRootBlockHash{0x7465746865722d6bull};

SaltHash hash_salt(std::string_view salt);

// Hash of a full block holding `tokens` whose predecessor hashes to `parent`.
BlockHash hash_block(BlockHash parent, std::span<const KvTokenId> tokens, SaltHash salt);

// For unordered containers: the value is already a well-mixed hash.
struct BlockHashHasher {
  size_t operator()(BlockHash hash) const { return static_cast<size_t>(to_value(hash)); }
};

}  // namespace tether::kv
