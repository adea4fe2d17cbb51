#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace tether::kv {

// Index of one block of KV storage. A strong type so that block ids, token
// positions and layer indexes cannot be mixed up.
enum class BlockId : int32_t {};
inline constexpr int32_t to_index(BlockId id) { return static_cast<int32_t>(id); }

// Element type of stored keys and values. kQ8_0 stores each slot's head_dim
// values as ggml Q8_0 blocks (32 int8 quants and an fp16 scale: 8.5 bits per
// value, about half of F16); head_dim must then be a multiple of 32.
enum class KvType { kF16, kF32, kQ8_0 };
std::string_view kv_type_name(KvType type);
// Bytes of one slot of one head: head_dim values of `type`.
size_t kv_slot_bytes(KvType type, int32_t head_dim);

struct KvShape;
// Bytes of one block of `shape`: every layer's K and V for every kv head
// and slot. Computed in 128 bits: throws Error(kInvalidArgument) for a
// shape with a non-positive size or whose block would not fit in memory.
size_t kv_block_bytes(const KvShape& shape);

struct KvShape {
  int32_t n_layers = 0;
  int32_t n_kv_heads = 0;
  int32_t head_dim = 0;
  int32_t block_tokens = 16;  // token positions per block
  KvType type = KvType::kF16;
};

// Memory for the keys and values of `n_blocks` blocks of `block_tokens`
// positions each, for every layer. Layout, outermost first:
//   [block][layer][K|V][kv_head][slot][head_dim]
// so one head's keys (or values) for a block's positions are one contiguous
// run of block_tokens * head_dim elements, which is what attention streams.
// The storage holds no metadata: which blocks a sequence uses, in order, is
// its block table (a span of BlockId) kept by the caller; position p of a
// sequence lives in block table[p / block_tokens], slot p % block_tokens.
class KvBlockStorage {
 public:
  // Throws Error(kInvalidArgument) for non-positive sizes, a head_dim that
  // is not a multiple of 32 with kQ8_0, and when the total size overflows.
  KvBlockStorage(const KvShape& shape, int32_t n_blocks);

  const KvShape& shape() const { return shape_; }
  int32_t n_blocks() const { return n_blocks_; }
  size_t bytes() const { return data_.size(); }
  size_t block_bytes() const { return block_bytes_; }
  // Bytes of one head's K (or V) run within a block.
  size_t head_run_bytes() const { return head_run_bytes_; }

  // Start of the K (value = false) or V (value = true) run of `kv_head` in
  // `block` for `layer`: block_tokens * head_dim elements of shape().type.
  // Throws Error(kInvalidArgument) for an out-of-range block id.
  const uint8_t* head_run(BlockId block, int32_t layer, bool value, int32_t kv_head) const;
  uint8_t* head_run(BlockId block, int32_t layer, bool value, int32_t kv_head);

  // Stores one position's keys and values (n_kv_heads * head_dim floats each,
  // heads one after another) for `layer` at slot `slot` of `block`,
  // converting to the storage type.
  void write(BlockId block, int32_t slot, int32_t layer, const float* k, const float* v);

  // Reads back one position (for tests and debugging), converted to float.
  void read(BlockId block, int32_t slot, int32_t layer, float* k, float* v) const;

  // Throws Error(kInvalidArgument) unless `id` names one of this storage's blocks.
  void check_block(BlockId id) const;

 private:
  size_t offset(BlockId block, int32_t layer, bool value, int32_t kv_head) const;

  KvShape shape_;
  int32_t n_blocks_ = 0;
  size_t head_run_bytes_ = 0;
  size_t block_bytes_ = 0;
  std::vector<uint8_t> data_;
};

}  // namespace tether::kv
