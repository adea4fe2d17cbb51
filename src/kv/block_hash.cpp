#include "kv/block_hash.h"

#include <xxhash.h>

#include <array>
#include <vector>

namespace tether::kv {
namespace {

// Seeds keep salt hashes and block hashes in separate domains, so a salt
// string can never be crafted to equal some block's hash input.
constexpr uint64_t kSaltSeed = 0x73616c74ull;     // "salt"
constexpr uint64_t kBlockSeed = 0x626c6f636bull;  // "block"

// Blocks of up to this many tokens are serialized on the stack.
constexpr size_t kStackTokens = 64;

uint8_t* put_u64(uint8_t* out, uint64_t value) {
  for (int byte_idx = 0; byte_idx < 8; ++byte_idx)
    out[byte_idx] = static_cast<uint8_t>(value >> (8 * byte_idx));
  return out + 8;
}

uint8_t* put_u32(uint8_t* out, uint32_t value) {
  for (int byte_idx = 0; byte_idx < 4; ++byte_idx)
    out[byte_idx] = static_cast<uint8_t>(value >> (8 * byte_idx));
  return out + 4;
}

// Layout: parent (u64) | salt (u64) | token ids (u32 each), all little-endian.
void serialize(uint8_t* out, BlockHash parent, std::span<const KvTokenId> tokens, SaltHash salt) {
  out = put_u64(out, to_value(parent));
  out = put_u64(out, to_value(salt));
  for (KvTokenId token : tokens) out = put_u32(out, static_cast<uint32_t>(token));
}

}  // namespace

SaltHash hash_salt(std::string_view salt) {
  return SaltHash{XXH3_64bits_withSeed(salt.data(), salt.size(), kSaltSeed)};
}

BlockHash hash_block(BlockHash parent, std::span<const KvTokenId> tokens, SaltHash salt) {
  const size_t n_bytes = 16 + 4 * tokens.size();
  if (tokens.size() <= kStackTokens) {
    std::array<uint8_t, 16 + 4 * kStackTokens> buffer;
    serialize(buffer.data(), parent, tokens, salt);
    return BlockHash{XXH3_64bits_withSeed(buffer.data(), n_bytes, kBlockSeed)};
  }
  std::vector<uint8_t> buffer(n_bytes);
  serialize(buffer.data(), parent, tokens, salt);
  return BlockHash{XXH3_64bits_withSeed(buffer.data(), n_bytes, kBlockSeed)};
}

}  // namespace tether::kv
