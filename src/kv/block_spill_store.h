#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/model/model_identity.h"
#include "kv/block_hash.h"
#include "kv/block_pool.h"
#include "kv/kv_block_storage.h"
#include "kv/sequence_blocks.h"

namespace tether::kv {

// Outcome of one save or load: a cache never fails its caller, it misses.
struct SpillStatus {
  bool ok = false;
  std::string reason;  // why not, one line (empty when ok)
  explicit operator bool() const { return ok; }
};

struct SpillStoreStats {
  uint64_t saved_blocks = 0;    // files written
  uint64_t loaded_blocks = 0;   // files that passed every check and were used
  uint64_t rejected_files = 0;  // files that failed a check (then removed)
  uint64_t evicted_files = 0;   // removed to stay within the byte budget
  uint64_t failed_saves = 0;    // writes that failed (disk full, permissions)
  int64_t files = 0;            // gauges now
  uint64_t bytes = 0;
};

// A persistent prefix cache: one file per full KV block, named by its chained
// block hash, under <root>/<store key>/ where the store key hashes the model
// identity and the KvShape (so models and KV layouts never share files, and
// several may share a root). A file holds (little-endian):
//
//   magic "TTHRKVB\0" | u32 format version | u32 header bytes
//   model identity (2 x u64) | n_layers, n_kv_heads, head_dim, block_tokens,
//   kv type (5 x u32) | hash, parent hash, salt hash (3 x u64)
//   u32 n_tokens | u32 reserved | u64 payload bytes | u64 checksum
//   token ids (n_tokens x u32) | payload: the block's KV bytes exactly as
//   KvBlockStorage lays them out ([layer][K|V][kv_head][slot][head_dim])
//
// The checksum is XXH3-64 over the file with its own field zeroed. load()
// checks, before a byte reaches the storage: the exact size, each header
// field against this store (naming the one that differs), the block hash
// recomputed from the stored parent, salt and tokens against the file name,
// the checksum, and last that the block holds what the caller expects. A
// file failing any check but the last is removed; one that is valid but
// holds another prefix (a 64-bit hash collision) is kept and not used. The
// checksum catches corruption, not malice: whoever can write the directory
// is trusted like the model file.
//
// Files are written to a temporary name and renamed, so a reader sees a
// whole file or none. There is no fsync: a file torn by a power loss fails
// the size or checksum check and is dropped like any corrupt one.
// Temporary files older than ten minutes (a crashed writer's) are removed
// when a store opens.
//
// With a byte budget (over this store's directory), saving evicts the least
// recently used files (saved or loaded; on disk the order is the files'
// modification times, so it survives restarts) until the directory fits.
//
// I/O is synchronous: about 0.4 ms to save and 0.12 ms to load a 192 KiB
// block (a 0.5B model's 16 tokens, F16) through the page cache. Not
// thread-safe, like BlockPool: the scheduler thread owns it, and one process
// owns a directory.
class BlockSpillStore {
 public:
  // Creates the directory if needed and indexes the files already there (by
  // name, dropping those of the wrong size; contents are checked when
  // loaded). Throws Error(kIo) when the directory cannot be created or
  // listed, Error(kInvalidArgument) for a bad shape. max_bytes 0: no budget.
  BlockSpillStore(const std::filesystem::path& root, const model::ModelIdentity& identity,
                  const KvShape& shape, uint64_t max_bytes = 0);

  const std::filesystem::path& directory() const { return dir_; }
  const KvShape& shape() const { return shape_; }
  // Exact size of every block file of this store.
  uint64_t file_bytes() const { return file_bytes_; }

  bool contains(BlockHash hash) const { return entries_.count(hash) != 0; }
  // Hashes of the indexed files, least recently used first.
  std::vector<BlockHash> index() const;

  // Writes `block` of `storage` as the block `hash` with `content` (whose
  // recomputed hash must equal `hash`). Replaces an existing file. Fails
  // (never throws) on I/O errors or a content/hash mismatch.
  SpillStatus save(BlockHash hash, const BlockContent& content, const KvBlockStorage& storage,
                   BlockId block);

  // Reads the file of `hash`, checks it (see above) and that it holds
  // exactly `expected`, then copies its KV into `block` of `storage`, whose
  // shape must equal this store's. On failure `block` is untouched, the file
  // is removed if it was bad, and the reason says why.
  SpillStatus load(BlockHash hash, const BlockContent& expected, KvBlockStorage& storage,
                   BlockId block);

  // Removes the file of `hash` (if any).
  void remove(BlockHash hash);

  SpillStoreStats stats() const;

 private:
  struct Entry {
    uint64_t bytes = 0;
    uint64_t use_seq = 0;  // key in lru_
  };

  std::filesystem::path file_path(BlockHash hash) const;
  void touch(BlockHash hash, Entry& entry);
  void forget(BlockHash hash);
  void enforce_budget(std::optional<BlockHash> keep);
  SpillStatus reject(BlockHash hash, std::string reason);

  std::filesystem::path dir_;
  model::ModelIdentity identity_;
  KvShape shape_;
  uint64_t max_bytes_;
  uint64_t header_bytes_ = 0;
  uint64_t payload_bytes_ = 0;
  uint64_t file_bytes_ = 0;
  std::unordered_map<BlockHash, Entry, BlockHashHasher> entries_;
  std::map<uint64_t, BlockHash> lru_;  // use_seq -> hash, oldest first
  uint64_t next_seq_ = 1;
  uint64_t total_bytes_ = 0;
  uint64_t temp_counter_ = 0;
  std::vector<uint8_t> buffer_;  // one file, reused
  SpillStoreStats stats_;
};

// Brings back from `store` the blocks of a sequence's chain that the pool
// lacks: after the chain's leading ready blocks, each following block that
// is absent from the pool and present on disk is allocated, loaded and
// published, then released to the pool's cache (ref 0, LRU), so that
// SequenceBlocks::start() finds it like any cached block. Stops at the first
// block that is pending, not on disk, fails to load, or finds no free block.
// `tokens` are the sequence's tokens (at least chain.size() * block_tokens)
// and `salt` its salt hash; chain[i] must be the hash of block i. The chain's
// blocks are held while restoring so that allocating for a deeper block never
// evicts a shallower one. Returns the number of blocks restored.
int32_t restore_chain(BlockPool& pool, BlockSpillStore& store, KvBlockStorage& storage,
                      std::span<const BlockHash> chain, std::span<const KvTokenId> tokens,
                      SaltHash salt);

// restore_chain over a not yet started sequence's full blocks: call it
// right before seq.start() so the lookup finds the restored blocks.
int32_t restore_prefix(BlockPool& pool, BlockSpillStore& store, KvBlockStorage& storage,
                       const SequenceBlocks& seq);

// Saves every ready indexed block among `blocks` that the store lacks.
// Spilling design: the pool forgets a block's hash only when allocate()
// evicts it from the cache, and a block enters the cache only when its last
// reference is released. So a scheduler that calls spill_blocks() on a
// sequence's block table right before releasing it keeps every cached block
// on disk, and eviction loses nothing; each block is written once (later
// calls find it present). Returns the number of blocks written.
int32_t spill_blocks(const BlockPool& pool, BlockSpillStore& store, const KvBlockStorage& storage,
                     std::span<const BlockId> blocks);

// Saves every ready indexed block of the pool that the store lacks (at
// shutdown, and for blocks still held by running sequences). Returns the
// number of blocks written.
int32_t spill_all(const BlockPool& pool, BlockSpillStore& store, const KvBlockStorage& storage);

}  // namespace tether::kv
