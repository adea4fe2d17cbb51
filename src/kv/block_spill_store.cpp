#include "kv/block_spill_store.h"

#include <fmt/format.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <system_error>

#include "common/error.h"

namespace tether::kv {
namespace {

namespace fs = std::filesystem;

constexpr char kMagic[8] = {'T', 'T', 'H', 'R', 'K', 'V', 'B', '\0'};
constexpr uint32_t kFormatVersion = 1;
constexpr uint32_t kFixedHeaderBytes = 8 + 4 + 4 + 16 + 5 * 4 + 3 * 8 + 4 + 4 + 8 + 8;
constexpr size_t kChecksumOffset = kFixedHeaderBytes - 8;
constexpr std::string_view kFileSuffix = ".kvb";
constexpr std::string_view kTempMarker = ".tmp.";
// Temporary files older than this are leftovers of a crashed writer.
constexpr auto kStaleTempAge = std::chrono::minutes(10);
constexpr uint64_t kStoreKeySeed = 0x6b762d7370696c6cull;  // "kv-spill"

void put_u32(std::vector<uint8_t>& out, uint32_t value) {
  for (int byte_idx = 0; byte_idx < 4; ++byte_idx)
    out.push_back(static_cast<uint8_t>(value >> (8 * byte_idx)));
}
void put_u64(std::vector<uint8_t>& out, uint64_t value) {
  for (int byte_idx = 0; byte_idx < 8; ++byte_idx)
    out.push_back(static_cast<uint8_t>(value >> (8 * byte_idx)));
}
uint32_t get_u32(const uint8_t* in) {
  uint32_t value = 0;
  for (int byte_idx = 0; byte_idx < 4; ++byte_idx)
    value |= uint32_t{in[byte_idx]} << (8 * byte_idx);
  return value;
}
uint64_t get_u64(const uint8_t* in) {
  uint64_t value = 0;
  for (int byte_idx = 0; byte_idx < 8; ++byte_idx)
    value |= uint64_t{in[byte_idx]} << (8 * byte_idx);
  return value;
}

// Reads fields in order from a buffer whose size the caller has checked.
struct FieldReader {
  const uint8_t* at;
  uint32_t u32() {
    const uint32_t value = get_u32(at);
    at += 4;
    return value;
  }
  uint64_t u64() {
    const uint64_t value = get_u64(at);
    at += 8;
    return value;
  }
};

// XXH3-64 of the whole file with the checksum field zeroed (it is, while
// this runs: save fills it afterwards, load zeroes it after reading it).
uint64_t file_checksum(std::span<uint8_t> file) {
  std::memset(file.data() + kChecksumOffset, 0, 8);
  return XXH3_64bits(file.data(), file.size());
}

std::string hash_name(BlockHash hash) { return fmt::format("{:016x}", to_value(hash)); }

// Parses "<16 lowercase hex digits>.kvb"; anything else is not ours.
std::optional<BlockHash> parse_file_name(const std::string& name) {
  if (name.size() != 16 + kFileSuffix.size() || !name.ends_with(kFileSuffix)) return std::nullopt;
  uint64_t value = 0;
  for (size_t char_idx = 0; char_idx < 16; ++char_idx) {
    const char c = name[char_idx];
    uint64_t digit = 0;
    if (c >= '0' && c <= '9') {
      digit = static_cast<uint64_t>(c - '0');
    } else if (c >= 'a' && c <= 'f') {
      digit = static_cast<uint64_t>(c - 'a' + 10);
    } else {
      return std::nullopt;
    }
    value = value << 4 | digit;
  }
  return BlockHash{value};
}

std::string store_key(const model::ModelIdentity& identity, const KvShape& shape) {
  std::vector<uint8_t> bytes;
  put_u64(bytes, identity.high);
  put_u64(bytes, identity.low);
  for (int32_t field : {shape.n_layers, shape.n_kv_heads, shape.head_dim, shape.block_tokens,
                        static_cast<int32_t>(shape.type)}) {
    put_u32(bytes, static_cast<uint32_t>(field));
  }
  return fmt::format("{:016x}", XXH3_64bits_withSeed(bytes.data(), bytes.size(), kStoreKeySeed));
}

bool same_tokens(std::span<const KvTokenId> a, const uint8_t* stored, size_t n_stored) {
  if (a.size() != n_stored) return false;
  for (size_t token_idx = 0; token_idx < n_stored; ++token_idx) {
    if (static_cast<uint32_t>(a[token_idx]) != get_u32(stored + 4 * token_idx)) return false;
  }
  return true;
}

}  // namespace

BlockSpillStore::BlockSpillStore(const fs::path& root, const model::ModelIdentity& identity,
                                 const KvShape& shape, uint64_t max_bytes)
    : dir_(root / store_key(identity, shape)),
      identity_(identity),
      shape_(shape),
      max_bytes_(max_bytes) {
  // Sizing through a one-block storage validates the shape the same way.
  const KvBlockStorage probe(shape, 1);
  payload_bytes_ = probe.block_bytes();
  header_bytes_ = kFixedHeaderBytes + 4ull * static_cast<uint64_t>(shape.block_tokens);
  file_bytes_ = header_bytes_ + payload_bytes_;

  std::error_code error;
  fs::create_directories(dir_, error);
  if (error) {
    throw_error(ErrorCode::kIo, "kv spill: cannot create {}: {}", dir_.string(), error.message());
  }
  struct Found {
    BlockHash hash;
    uint64_t bytes;
    fs::file_time_type time;
  };
  std::vector<Found> found;
  fs::directory_iterator it(dir_, error);
  if (error) {
    throw_error(ErrorCode::kIo, "kv spill: cannot list {}: {}", dir_.string(), error.message());
  }
  const auto now = fs::file_time_type::clock::now();
  for (; it != fs::directory_iterator(); it.increment(error)) {
    if (error) {
      throw_error(ErrorCode::kIo, "kv spill: cannot list {}: {}", dir_.string(), error.message());
    }
    const std::string name = it->path().filename().string();
    std::error_code entry_error;
    if (!it->is_regular_file(entry_error)) continue;
    const auto time = it->last_write_time(entry_error);
    if (entry_error) continue;
    if (name.find(kTempMarker) != std::string::npos) {
      if (now - time > kStaleTempAge) fs::remove(it->path(), entry_error);
      continue;
    }
    const auto hash = parse_file_name(name);
    if (!hash) continue;  // not ours: leave it alone
    const uint64_t bytes = it->file_size(entry_error);
    if (entry_error) continue;
    // A wrong size is certain to fail load(): drop it now, so that contains()
    // never sends restore_chain to evict a cached block for a useless file.
    if (bytes != file_bytes_) {
      fs::remove(it->path(), entry_error);
      ++stats_.rejected_files;
      continue;
    }
    found.push_back({*hash, bytes, time});
  }
  std::stable_sort(found.begin(), found.end(),
                   [](const Found& a, const Found& b) { return a.time < b.time; });
  for (const Found& file : found) {
    Entry entry{file.bytes, next_seq_++};
    lru_.emplace(entry.use_seq, file.hash);
    entries_.emplace(file.hash, entry);
    total_bytes_ += file.bytes;
  }
  if (max_bytes_ != 0 && total_bytes_ > max_bytes_) enforce_budget(std::nullopt);
}

fs::path BlockSpillStore::file_path(BlockHash hash) const {
  return dir_ / (hash_name(hash) + std::string(kFileSuffix));
}

std::vector<BlockHash> BlockSpillStore::index() const {
  std::vector<BlockHash> hashes;
  hashes.reserve(lru_.size());
  for (const auto& [seq, hash] : lru_) hashes.push_back(hash);
  return hashes;
}

SpillStoreStats BlockSpillStore::stats() const {
  SpillStoreStats stats = stats_;
  stats.files = static_cast<int64_t>(entries_.size());
  stats.bytes = total_bytes_;
  return stats;
}

void BlockSpillStore::touch(BlockHash hash, Entry& entry) {
  lru_.erase(entry.use_seq);
  entry.use_seq = next_seq_++;
  lru_.emplace(entry.use_seq, hash);
}

void BlockSpillStore::forget(BlockHash hash) {
  const auto it = entries_.find(hash);
  if (it == entries_.end()) return;
  lru_.erase(it->second.use_seq);
  total_bytes_ -= it->second.bytes;
  entries_.erase(it);
}

void BlockSpillStore::remove(BlockHash hash) {
  forget(hash);
  std::error_code error;
  fs::remove(file_path(hash), error);
}

void BlockSpillStore::enforce_budget(std::optional<BlockHash> keep) {
  auto it = lru_.begin();
  while (total_bytes_ > max_bytes_ && it != lru_.end()) {
    const BlockHash victim = it->second;
    ++it;
    if (victim == keep) continue;
    remove(victim);
    ++stats_.evicted_files;
  }
}

SpillStatus BlockSpillStore::reject(BlockHash hash, std::string reason) {
  remove(hash);
  ++stats_.rejected_files;
  return {false, fmt::format("kv spill: {}: {}", hash_name(hash), reason)};
}

SpillStatus BlockSpillStore::save(BlockHash hash, const BlockContent& content,
                                  const KvBlockStorage& storage, BlockId block) {
  const auto fail = [&](std::string reason) {
    ++stats_.failed_saves;
    return SpillStatus{false, fmt::format("kv spill: save {}: {}", hash_name(hash), reason)};
  };
  const KvShape& shape = storage.shape();
  if (shape.n_layers != shape_.n_layers || shape.n_kv_heads != shape_.n_kv_heads ||
      shape.head_dim != shape_.head_dim || shape.block_tokens != shape_.block_tokens ||
      shape.type != shape_.type) {
    return fail("the storage's KV shape differs from the store's");
  }
  if (to_index(block) < 0 || to_index(block) >= storage.n_blocks()) {
    return fail(fmt::format("block {} is outside the storage", to_index(block)));
  }
  if (content.tokens.size() != static_cast<size_t>(shape_.block_tokens)) {
    return fail(fmt::format("{} tokens, not {}", content.tokens.size(), shape_.block_tokens));
  }
  if (hash_block(content.parent, content.tokens, content.salt) != hash) {
    return fail("the content does not hash to the block's hash");
  }

  buffer_.clear();
  buffer_.reserve(file_bytes_);
  buffer_.insert(buffer_.end(), kMagic, kMagic + sizeof(kMagic));
  put_u32(buffer_, kFormatVersion);
  put_u32(buffer_, kFixedHeaderBytes);
  put_u64(buffer_, identity_.high);
  put_u64(buffer_, identity_.low);
  put_u32(buffer_, static_cast<uint32_t>(shape_.n_layers));
  put_u32(buffer_, static_cast<uint32_t>(shape_.n_kv_heads));
  put_u32(buffer_, static_cast<uint32_t>(shape_.head_dim));
  put_u32(buffer_, static_cast<uint32_t>(shape_.block_tokens));
  put_u32(buffer_, static_cast<uint32_t>(shape_.type));
  put_u64(buffer_, to_value(hash));
  put_u64(buffer_, to_value(content.parent));
  put_u64(buffer_, to_value(content.salt));
  put_u32(buffer_, static_cast<uint32_t>(content.tokens.size()));
  put_u32(buffer_, 0);
  put_u64(buffer_, payload_bytes_);
  put_u64(buffer_, 0);  // checksum, filled below
  for (KvTokenId token : content.tokens) put_u32(buffer_, static_cast<uint32_t>(token));
  const uint8_t* payload = storage.head_run(block, 0, false, 0);
  buffer_.insert(buffer_.end(), payload, payload + payload_bytes_);
  const uint64_t checksum = file_checksum(buffer_);
  for (int byte_idx = 0; byte_idx < 8; ++byte_idx)
    buffer_[kChecksumOffset + byte_idx] = static_cast<uint8_t>(checksum >> (8 * byte_idx));

  const fs::path path = file_path(hash);
  const fs::path temp = dir_ / fmt::format("{}{}{}.{}", hash_name(hash), kTempMarker,
                                           static_cast<long>(::getpid()), temp_counter_++);
  {
    std::FILE* out = std::fopen(temp.c_str(), "wb");
    if (out == nullptr)
      return fail(fmt::format("cannot create {}: {}", temp.string(), std::strerror(errno)));
    const bool written = std::fwrite(buffer_.data(), 1, buffer_.size(), out) == buffer_.size();
    const int write_errno = errno;
    const bool closed = std::fclose(out) == 0;
    if (!written || !closed) {
      std::error_code ignored;
      fs::remove(temp, ignored);
      return fail(fmt::format("cannot write {}: {}", temp.string(),
                              std::strerror(written ? errno : write_errno)));
    }
  }
  std::error_code error;
  fs::rename(temp, path, error);
  if (error) {
    std::error_code ignored;
    fs::remove(temp, ignored);
    return fail(fmt::format("cannot rename to {}: {}", path.string(), error.message()));
  }

  forget(hash);
  Entry entry{buffer_.size(), next_seq_++};
  lru_.emplace(entry.use_seq, hash);
  entries_.emplace(hash, entry);
  total_bytes_ += entry.bytes;
  ++stats_.saved_blocks;
  if (max_bytes_ != 0 && total_bytes_ > max_bytes_) enforce_budget(hash);
  return {true, {}};
}

SpillStatus BlockSpillStore::load(BlockHash hash, const BlockContent& expected,
                                  KvBlockStorage& storage, BlockId block) {
  const auto entry_it = entries_.find(hash);
  if (entry_it == entries_.end())
    return {false, fmt::format("kv spill: {}: not stored", hash_name(hash))};
  const KvShape& shape = storage.shape();
  if (shape.n_layers != shape_.n_layers || shape.n_kv_heads != shape_.n_kv_heads ||
      shape.head_dim != shape_.head_dim || shape.block_tokens != shape_.block_tokens ||
      shape.type != shape_.type) {
    return {false, "kv spill: the storage's KV shape differs from the store's"};
  }
  if (to_index(block) < 0 || to_index(block) >= storage.n_blocks()) {
    return {false, fmt::format("kv spill: block {} is outside the storage", to_index(block))};
  }

  // Read the whole file, refusing anything but the exact size before
  // allocating or reading.
  std::FILE* in = std::fopen(file_path(hash).c_str(), "rb");
  if (in == nullptr) {
    // Gone (removed by hand): forget it; any other failure is kept for later.
    if (errno == ENOENT) forget(hash);
    return {false,
            fmt::format("kv spill: {}: cannot open: {}", hash_name(hash), std::strerror(errno))};
  }
  buffer_.resize(file_bytes_ + 1);
  const size_t got = std::fread(buffer_.data(), 1, buffer_.size(), in);
  const bool read_error = std::ferror(in) != 0;
  std::fclose(in);
  if (read_error) return {false, fmt::format("kv spill: {}: read error", hash_name(hash))};
  if (got != file_bytes_) {
    return reject(hash, got > file_bytes_ ? fmt::format("longer than {} bytes", file_bytes_)
                                          : fmt::format("{} bytes, expected {}", got, file_bytes_));
  }
  buffer_.resize(file_bytes_);

  FieldReader reader{buffer_.data()};
  if (std::memcmp(buffer_.data(), kMagic, sizeof(kMagic)) != 0) return reject(hash, "bad magic");
  reader.at += sizeof(kMagic);
  if (const uint32_t version = reader.u32(); version != kFormatVersion) {
    return reject(hash, fmt::format("format version {}, expected {}", version, kFormatVersion));
  }
  if (const uint32_t bytes = reader.u32(); bytes != kFixedHeaderBytes) {
    return reject(hash, fmt::format("header of {} bytes, expected {}", bytes, kFixedHeaderBytes));
  }
  const model::ModelIdentity identity{reader.u64(), reader.u64()};
  if (identity != identity_) {
    return reject(
        hash, fmt::format("written for model {}, not {}", identity.to_hex(), identity_.to_hex()));
  }
  const uint32_t n_layers = reader.u32(), n_kv_heads = reader.u32(), head_dim = reader.u32(),
                 block_tokens = reader.u32(), type = reader.u32();
  if (n_layers != static_cast<uint32_t>(shape_.n_layers) ||
      n_kv_heads != static_cast<uint32_t>(shape_.n_kv_heads) ||
      head_dim != static_cast<uint32_t>(shape_.head_dim) ||
      block_tokens != static_cast<uint32_t>(shape_.block_tokens) ||
      type != static_cast<uint32_t>(shape_.type)) {
    return reject(hash, fmt::format("KV shape {}x{}x{}/{} type {}, expected {}x{}x{}/{} type {}",
                                    n_layers, n_kv_heads, head_dim, block_tokens, type,
                                    shape_.n_layers, shape_.n_kv_heads, shape_.head_dim,
                                    shape_.block_tokens, static_cast<uint32_t>(shape_.type)));
  }
  const BlockHash stored_hash{reader.u64()};
  const BlockHash parent{reader.u64()};
  const SaltHash salt{reader.u64()};
  const uint32_t n_tokens = reader.u32();
  const uint32_t reserved = reader.u32();
  const uint64_t payload_bytes = reader.u64();
  const uint64_t checksum = reader.u64();
  if (stored_hash != hash) {
    return reject(hash, fmt::format("holds block {}", hash_name(stored_hash)));
  }
  if (n_tokens != block_tokens || reserved != 0 || payload_bytes != payload_bytes_) {
    return reject(hash, fmt::format("{} tokens / {} payload bytes, expected {} / {}", n_tokens,
                                    payload_bytes, block_tokens, payload_bytes_));
  }
  const uint8_t* tokens = reader.at;
  std::vector<KvTokenId> token_ids(n_tokens);
  for (size_t token_idx = 0; token_idx < n_tokens; ++token_idx)
    token_ids[token_idx] = static_cast<KvTokenId>(get_u32(tokens + 4 * token_idx));
  if (hash_block(parent, token_ids, salt) != hash) {
    return reject(hash, "its parent, salt and tokens do not hash to its name");
  }
  if (file_checksum(buffer_) != checksum) return reject(hash, "checksum mismatch");
  // A valid file for another prefix under the same hash (a 64-bit collision,
  // or a caller's mix-up): not corrupt, so kept, but not used.
  if (parent != expected.parent || salt != expected.salt ||
      !same_tokens(expected.tokens, tokens, n_tokens)) {
    return {false, fmt::format("kv spill: {}: holds other tokens than expected", hash_name(hash))};
  }

  std::memcpy(storage.head_run(block, 0, false, 0), buffer_.data() + header_bytes_, payload_bytes_);
  touch(hash, entry_it->second);
  std::error_code ignored;
  fs::last_write_time(file_path(hash), fs::file_time_type::clock::now(), ignored);
  ++stats_.loaded_blocks;
  return {true, {}};
}

int32_t restore_chain(BlockPool& pool, BlockSpillStore& store, KvBlockStorage& storage,
                      std::span<const BlockHash> chain, std::span<const KvTokenId> tokens,
                      SaltHash salt) {
  const int32_t block_tokens = pool.block_tokens();
  if (block_tokens != store.shape().block_tokens ||
      tokens.size() < chain.size() * static_cast<size_t>(block_tokens)) {
    throw_error(ErrorCode::kInvalidArgument,
                "restore_chain: {} tokens for {} blocks of {} (store blocks of {})", tokens.size(),
                chain.size(), block_tokens, store.shape().block_tokens);
  }
  const PrefixMatch match = pool.match_prefix(chain);
  if (match.wait_for) return 0;
  // Hold the ready prefix and each restored block so that allocate(), which
  // may evict cached blocks, cannot take one of this chain's own blocks.
  std::vector<BlockId> held;
  for (int32_t block_idx = 0; block_idx < match.ready_blocks; ++block_idx) {
    const BlockId block = *pool.find(chain[static_cast<size_t>(block_idx)]);
    pool.acquire(block);
    held.push_back(block);
  }
  int32_t restored = 0;
  for (size_t block_idx = static_cast<size_t>(match.ready_blocks); block_idx < chain.size();
       ++block_idx) {
    const BlockHash hash = chain[block_idx];
    if (pool.state(hash) != HashState::kAbsent || !store.contains(hash)) break;
    const BlockContent content{block_idx == 0 ? kRootBlockHash : chain[block_idx - 1], salt,
                               tokens.subspan(block_idx * static_cast<size_t>(block_tokens),
                                              static_cast<size_t>(block_tokens))};
    const std::optional<BlockId> block = pool.allocate();
    if (!block) break;
    if (!store.load(hash, content, storage, *block) || !pool.publish(*block, hash, content)) {
      pool.release(*block);
      break;
    }
    held.push_back(*block);
    ++restored;
  }
  // Deepest first, as SequenceBlocks releases: eviction then takes the tail.
  for (auto it = held.rbegin(); it != held.rend(); ++it) pool.release(*it);
  return restored;
}

int32_t restore_prefix(BlockPool& pool, BlockSpillStore& store, KvBlockStorage& storage,
                       const SequenceBlocks& seq) {
  return restore_chain(pool, store, storage, seq.full_block_hashes(), seq.tokens(),
                       seq.salt_hash());
}

namespace {

bool spill_block(const BlockPool& pool, BlockSpillStore& store, const KvBlockStorage& storage,
                 BlockId block) {
  if (!pool.is_ready(block)) return false;
  const std::optional<BlockHash> hash = pool.indexed_hash(block);
  if (!hash || store.contains(*hash)) return false;
  return static_cast<bool>(store.save(*hash, pool.content(block), storage, block));
}

}  // namespace

int32_t spill_blocks(const BlockPool& pool, BlockSpillStore& store, const KvBlockStorage& storage,
                     std::span<const BlockId> blocks) {
  int32_t written = 0;
  for (BlockId block : blocks) written += spill_block(pool, store, storage, block) ? 1 : 0;
  return written;
}

int32_t spill_all(const BlockPool& pool, BlockSpillStore& store, const KvBlockStorage& storage) {
  int32_t written = 0;
  for (int32_t block_idx = 0; block_idx < pool.n_blocks(); ++block_idx)
    written += spill_block(pool, store, storage, BlockId{block_idx}) ? 1 : 0;
  return written;
}

}  // namespace tether::kv
