#include "kv/block_spill_store.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <numeric>
#include <random>
#include <vector>

#include "common/error.h"
#include "kv/chain_test_support.h"
#include "engine/kernels/thread_pool.h"
#include "engine/model/llama_model.h"
#include "engine/model/model_identity.h"
#include "engine/model/test_models.h"
#include "kv/sequence_blocks.h"
#include "test_paths.h"

namespace tether::kv {
namespace {

namespace fs = std::filesystem;

constexpr int32_t kBlockTokens = test_support::kChainBlockTokens;
const KvShape kShape{2, 2, 8, kBlockTokens, KvType::kF16};
const model::ModelIdentity kModel{0x1111222233334444ull, 0x5555666677778888ull};

using test_support::Chain;

std::span<const uint8_t> block_bytes(const KvBlockStorage& storage, BlockId block) {
  return {storage.head_run(block, 0, false, 0), storage.block_bytes()};
}

void fill_random(KvBlockStorage& storage, BlockId block, uint32_t seed) {
  std::mt19937 rng(seed);
  uint8_t* data = storage.head_run(block, 0, false, 0);
  for (size_t byte_idx = 0; byte_idx < storage.block_bytes(); ++byte_idx)
    data[byte_idx] = static_cast<uint8_t>(rng());
}

bool same_bytes(const KvBlockStorage& a, BlockId block_a, const KvBlockStorage& b,
                BlockId block_b) {
  const auto x = block_bytes(a, block_a);
  const auto y = block_bytes(b, block_b);
  return x.size() == y.size() && std::memcmp(x.data(), y.data(), x.size()) == 0;
}

std::vector<uint8_t> read_all(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_all(const fs::path& path, std::span<const uint8_t> bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
}

fs::path file_of(const BlockSpillStore& store, BlockHash hash) {
  return store.directory() / fmt::format("{:016x}.kvb", to_value(hash));
}

TEST(BlockSpillStore, SavesAndLoadsAcrossARestart) {
  for (KvType type : {KvType::kF16, KvType::kF32}) {
    const fs::path root = testing::make_temp_dir("spill_roundtrip");
    KvShape shape = kShape;
    shape.type = type;
    const Chain chain(3, 100, "tenant");
    KvBlockStorage storage(shape, 4);
    {
      BlockSpillStore store(root, kModel, shape);
      EXPECT_TRUE(store.index().empty());
      for (int block_idx = 0; block_idx < 3; ++block_idx) {
        fill_random(storage, BlockId{block_idx + 1}, static_cast<uint32_t>(block_idx));
        const SpillStatus status = store.save(chain.hashes[block_idx], chain.content(block_idx),
                                              storage, BlockId{block_idx + 1});
        ASSERT_TRUE(status) << status.reason;
      }
      EXPECT_EQ(store.stats().saved_blocks, 3u);
      EXPECT_EQ(store.stats().bytes, 3 * store.file_bytes());
      EXPECT_EQ(fs::file_size(file_of(store, chain.hashes[0])), store.file_bytes());
    }
    // A new process: the index comes from the directory.
    BlockSpillStore store(root, kModel, shape);
    EXPECT_EQ(store.index().size(), 3u);
    for (int block_idx = 0; block_idx < 3; ++block_idx)
      EXPECT_TRUE(store.contains(chain.hashes[block_idx]));
    KvBlockStorage fresh(shape, 5);
    for (int block_idx = 0; block_idx < 3; ++block_idx) {
      const SpillStatus status = store.load(chain.hashes[block_idx], chain.content(block_idx),
                                            fresh, BlockId{4 - block_idx});
      ASSERT_TRUE(status) << status.reason;
      EXPECT_TRUE(same_bytes(storage, BlockId{block_idx + 1}, fresh, BlockId{4 - block_idx}));
    }
    EXPECT_EQ(store.stats().loaded_blocks, 3u);
    EXPECT_EQ(store.stats().rejected_files, 0u);
  }
}

TEST(BlockSpillStore, SeparatesModelsAndShapes) {
  const fs::path root = testing::make_temp_dir("spill_separate");
  const Chain chain(1, 7);
  KvBlockStorage storage(kShape, 1);
  fill_random(storage, BlockId{0}, 1);
  BlockSpillStore store(root, kModel, kShape);
  ASSERT_TRUE(store.save(chain.hashes[0], chain.content(0), storage, BlockId{0}));

  model::ModelIdentity other = kModel;
  other.low ^= 1;
  EXPECT_FALSE(BlockSpillStore(root, other, kShape).contains(chain.hashes[0]));
  KvShape f32 = kShape;
  f32.type = KvType::kF32;
  EXPECT_FALSE(BlockSpillStore(root, kModel, f32).contains(chain.hashes[0]));
  EXPECT_TRUE(BlockSpillStore(root, kModel, kShape).contains(chain.hashes[0]));
}

TEST(BlockSpillStore, RefusesToSaveMismatchedContent) {
  const fs::path root = testing::make_temp_dir("spill_bad_save");
  const Chain chain(2, 7);
  KvBlockStorage storage(kShape, 1);
  BlockSpillStore store(root, kModel, kShape);
  EXPECT_FALSE(store.save(chain.hashes[1], chain.content(0), storage, BlockId{0}));
  EXPECT_FALSE(store.save(chain.hashes[0], chain.content(0), storage, BlockId{1}));
  KvShape wide = kShape;
  wide.head_dim = 16;
  KvBlockStorage other(wide, 1);
  EXPECT_FALSE(store.save(chain.hashes[0], chain.content(0), other, BlockId{0}));
  EXPECT_TRUE(store.index().empty());
  EXPECT_EQ(store.stats().failed_saves, 3u);
}

TEST(BlockSpillStore, KeepsAValidFileThatHoldsOtherTokensThanExpected) {
  const fs::path root = testing::make_temp_dir("spill_expected");
  const Chain chain(1, 7);
  const Chain other(1, 8);
  KvBlockStorage storage(kShape, 2);
  fill_random(storage, BlockId{0}, 3);
  BlockSpillStore store(root, kModel, kShape);
  ASSERT_TRUE(store.save(chain.hashes[0], chain.content(0), storage, BlockId{0}));
  const SpillStatus status = store.load(chain.hashes[0], other.content(0), storage, BlockId{1});
  EXPECT_FALSE(status);
  EXPECT_NE(status.reason.find("other tokens"), std::string::npos) << status.reason;
  EXPECT_TRUE(store.contains(chain.hashes[0]));
  EXPECT_FALSE(store.load(other.hashes[0], other.content(0), storage, BlockId{1}));  // not stored
}

// Saves one block and returns the file's bytes, the block and its storage.
struct SavedBlock {
  fs::path root;
  Chain chain{1, 40};
  KvBlockStorage storage{kShape, 2};
  std::vector<uint8_t> file;

  explicit SavedBlock(const std::string& name) : root(testing::make_temp_dir(name)) {
    fill_random(storage, BlockId{0}, 9);
    BlockSpillStore store(root, kModel, kShape);
    EXPECT_TRUE(store.save(chain.hashes[0], chain.content(0), storage, BlockId{0}));
    file = read_all(file_of(store, chain.hashes[0]));
    EXPECT_EQ(file.size(), store.file_bytes());
  }

  // Writes `bytes` as the block's file, opens a store and loads it into
  // block 1 (pre-filled with a pattern that must survive a rejection).
  // The store opens on the valid file and finds `bytes` when it loads (a
  // store drops files of the wrong size when it opens; this tests load).
  SpillStatus load(std::span<const uint8_t> bytes) {
    const fs::path path = file_of(BlockSpillStore(root, kModel, kShape), chain.hashes[0]);
    write_all(path, file);
    BlockSpillStore reopened(root, kModel, kShape);
    write_all(path, bytes);
    std::memset(storage.head_run(BlockId{1}, 0, false, 0), 0xA5, storage.block_bytes());
    const SpillStatus status =
        reopened.load(chain.hashes[0], chain.content(0), storage, BlockId{1});
    if (!status) {
      const uint8_t* data = storage.head_run(BlockId{1}, 0, false, 0);
      for (size_t byte_idx = 0; byte_idx < storage.block_bytes(); ++byte_idx) {
        if (data[byte_idx] != 0xA5) {
          ADD_FAILURE() << "a rejected load wrote into the block";
          break;
        }
      }
      EXPECT_FALSE(reopened.contains(chain.hashes[0]));
      EXPECT_FALSE(fs::exists(file_of(reopened, chain.hashes[0]))) << "a bad file was kept";
      EXPECT_EQ(reopened.stats().rejected_files, 1u);
    }
    return status;
  }
};

TEST(BlockSpillStore, RejectsEveryTruncationAndExtension) {
  SavedBlock saved("spill_truncate");
  for (size_t size = 0; size < saved.file.size(); ++size) {
    const SpillStatus status = saved.load(std::span(saved.file).first(size));
    EXPECT_FALSE(status) << size;
    EXPECT_NE(status.reason.find("bytes"), std::string::npos) << status.reason;
  }
  std::vector<uint8_t> longer = saved.file;
  longer.push_back(0);
  EXPECT_FALSE(saved.load(longer));
  EXPECT_TRUE(saved.load(saved.file)) << "the untouched file must still load";
  EXPECT_TRUE(same_bytes(saved.storage, BlockId{0}, saved.storage, BlockId{1}));
}

TEST(BlockSpillStore, RejectsEveryFlippedByte) {
  SavedBlock saved("spill_flip");
  // Every byte of the header and tokens with two patterns, and a stride
  // through the payload (the checksum covers it).
  const size_t header = saved.file.size() - saved.storage.block_bytes();
  for (size_t byte_idx = 0; byte_idx < saved.file.size(); byte_idx += byte_idx < header ? 1 : 7) {
    for (uint8_t mask : {uint8_t{0x01}, uint8_t{0x80}}) {
      std::vector<uint8_t> bad = saved.file;
      bad[byte_idx] ^= mask;
      const SpillStatus status = saved.load(bad);
      EXPECT_FALSE(status) << "byte " << byte_idx << " mask " << int{mask};
      EXPECT_FALSE(status.reason.empty());
    }
  }
  EXPECT_TRUE(saved.load(saved.file));
}

TEST(BlockSpillStore, RejectsRandomlyMangledFiles) {
  SavedBlock saved("spill_mangle");
  std::mt19937 rng(11);
  for (int iter = 0; iter < 300; ++iter) {
    std::vector<uint8_t> bad = saved.file;
    const int n_edits = 1 + static_cast<int>(rng() % 6);
    for (int edit = 0; edit < n_edits; ++edit) {
      switch (rng() % 4) {
        case 0:
          bad[rng() % bad.size()] = static_cast<uint8_t>(rng());
          break;
        case 1:
          bad.resize(1 + rng() % (saved.file.size() + 8));
          break;
        case 2:
          bad[rng() % std::min<size_t>(bad.size(), 120)] ^= static_cast<uint8_t>(1u << (rng() % 8));
          break;
        default:
          bad.insert(bad.begin() + static_cast<ptrdiff_t>(rng() % bad.size()),
                     static_cast<uint8_t>(rng()));
      }
    }
    if (bad == saved.file) continue;
    EXPECT_FALSE(saved.load(bad)) << "iteration " << iter;
  }
}

TEST(BlockSpillStore, NamesWhatIsWrongWithAForeignFile) {
  SavedBlock saved("spill_reasons");
  const auto reason_after = [&](size_t offset, uint8_t mask) {
    std::vector<uint8_t> bad = saved.file;
    bad[offset] ^= mask;
    return saved.load(bad).reason;
  };
  EXPECT_NE(reason_after(0, 1).find("magic"), std::string::npos);
  EXPECT_NE(reason_after(8, 1).find("version"), std::string::npos);
  EXPECT_NE(reason_after(16, 1).find("model"), std::string::npos);
  EXPECT_NE(reason_after(32, 1).find("shape"), std::string::npos);
  EXPECT_NE(reason_after(52, 1).find("holds block"), std::string::npos);
  EXPECT_NE(reason_after(60, 1).find("hash to its name"), std::string::npos);
  EXPECT_NE(reason_after(saved.file.size() - 1, 1).find("checksum"), std::string::npos);

  // A valid file of another block under this block's name.
  const Chain other(1, 77);
  BlockSpillStore store(saved.root, kModel, kShape);
  ASSERT_TRUE(store.save(other.hashes[0], other.content(0), saved.storage, BlockId{0}));
  const SpillStatus status = saved.load(read_all(file_of(store, other.hashes[0])));
  EXPECT_NE(status.reason.find("holds block"), std::string::npos) << status.reason;
}

TEST(BlockSpillStore, EvictsLeastRecentlyUsedFilesBeyondTheBudget) {
  const fs::path root = testing::make_temp_dir("spill_budget");
  const Chain chain(5, 1);
  KvBlockStorage storage(kShape, 1);
  const uint64_t file_bytes = BlockSpillStore(root, kModel, kShape).file_bytes();
  BlockSpillStore store(root, kModel, kShape, 3 * file_bytes);
  for (int block_idx = 0; block_idx < 3; ++block_idx)
    ASSERT_TRUE(store.save(chain.hashes[block_idx], chain.content(block_idx), storage, BlockId{0}));
  // Using block 0 makes block 1 the oldest.
  ASSERT_TRUE(store.load(chain.hashes[0], chain.content(0), storage, BlockId{0}));
  ASSERT_TRUE(store.save(chain.hashes[3], chain.content(3), storage, BlockId{0}));
  EXPECT_FALSE(store.contains(chain.hashes[1]));
  EXPECT_FALSE(fs::exists(file_of(store, chain.hashes[1])));
  EXPECT_EQ(store.index(), (std::vector{chain.hashes[2], chain.hashes[0], chain.hashes[3]}));
  EXPECT_EQ(store.stats().bytes, 3 * file_bytes);
  EXPECT_EQ(store.stats().evicted_files, 1u);

  // A smaller budget on reopening trims at once; a budget below one file
  // still keeps the file just written.
  EXPECT_EQ(BlockSpillStore(root, kModel, kShape, 2 * file_bytes).index().size(), 2u);
  BlockSpillStore tiny(root, kModel, kShape, 1);
  EXPECT_TRUE(tiny.save(chain.hashes[4], chain.content(4), storage, BlockId{0}));
  EXPECT_EQ(tiny.index(), std::vector{chain.hashes[4]});
}

TEST(BlockSpillStore, CleansStaleTemporariesAndIgnoresStrangers) {
  const fs::path root = testing::make_temp_dir("spill_strangers");
  const fs::path dir = BlockSpillStore(root, kModel, kShape).directory();
  const fs::path stale = dir / "0123456789abcdef.kvb.tmp.1.0";
  const fs::path fresh = dir / "0123456789abcdef.kvb.tmp.2.0";
  write_all(stale, std::vector<uint8_t>(10, 1));
  write_all(fresh, std::vector<uint8_t>(10, 1));
  fs::last_write_time(stale, fs::file_time_type::clock::now() - std::chrono::hours(1));
  write_all(dir / "notes.txt", std::vector<uint8_t>(3, 1));
  write_all(dir / "0123456789ABCDEF.kvb", std::vector<uint8_t>(3, 1));
  fs::create_directory(dir / "fedcba9876543210.kvb");

  BlockSpillStore store(root, kModel, kShape);
  EXPECT_TRUE(store.index().empty());
  EXPECT_FALSE(fs::exists(stale));
  EXPECT_TRUE(fs::exists(fresh));
  EXPECT_TRUE(fs::exists(dir / "notes.txt"));

  // A file with a valid name and the wrong size is dropped on opening; one
  // of the right size is indexed, then rejected on load.
  const Chain chain(2, 5);
  write_all(file_of(store, chain.hashes[0]), std::vector<uint8_t>(3, 1));
  write_all(file_of(store, chain.hashes[1]), std::vector<uint8_t>(store.file_bytes(), 1));
  BlockSpillStore reopened(root, kModel, kShape);
  EXPECT_FALSE(reopened.contains(chain.hashes[0]));
  EXPECT_FALSE(fs::exists(file_of(store, chain.hashes[0])));
  EXPECT_EQ(reopened.stats().rejected_files, 1u);
  EXPECT_TRUE(reopened.contains(chain.hashes[1]));
  KvBlockStorage storage(kShape, 1);
  const SpillStatus status = reopened.load(chain.hashes[1], chain.content(1), storage, BlockId{0});
  EXPECT_NE(status.reason.find("magic"), std::string::npos) << status.reason;
  EXPECT_FALSE(reopened.contains(chain.hashes[1]));
  EXPECT_FALSE(fs::exists(file_of(store, chain.hashes[1])));
}

TEST(BlockSpillStore, ThrowsWhenTheDirectoryCannotBeMade) {
  const fs::path root = testing::make_temp_dir("spill_no_dir");
  write_all(root / "file", std::vector<uint8_t>(1, 0));
  EXPECT_THROW(BlockSpillStore(root / "file", kModel, kShape), Error);
}

// Publishes `chain` into `pool` with random KV in `storage`; returns the table.
std::vector<BlockId> compute(BlockPool& pool, KvBlockStorage& storage, const Chain& chain) {
  std::vector<BlockId> table;
  for (size_t block_idx = 0; block_idx < chain.hashes.size(); ++block_idx) {
    const auto block = pool.allocate();
    EXPECT_TRUE(block.has_value());
    fill_random(storage, *block, static_cast<uint32_t>(100 + block_idx));
    EXPECT_TRUE(
        pool.publish(*block, chain.hashes[block_idx], chain.content(static_cast<int>(block_idx))));
    table.push_back(*block);
  }
  return table;
}

void release_all(BlockPool& pool, std::vector<BlockId>& table) {
  for (auto it = table.rbegin(); it != table.rend(); ++it) pool.release(*it);
  table.clear();
}

TEST(RestoreChain, BringsASpilledChainBackAsCachedBlocks) {
  const fs::path root = testing::make_temp_dir("spill_restore");
  const Chain chain(4, 300, "s");
  BlockPool pool(6, kBlockTokens);
  KvBlockStorage storage(kShape, 6);
  std::vector<BlockId> table = compute(pool, storage, chain);
  const std::vector<BlockId> original = table;
  {
    BlockSpillStore store(root, kModel, kShape);
    EXPECT_EQ(spill_blocks(pool, store, storage, table), 4);
    EXPECT_EQ(spill_blocks(pool, store, storage, table), 0);  // already on disk
  }

  // Restart: an empty pool over fresh storage.
  BlockSpillStore store(root, kModel, kShape);
  BlockPool restarted(6, kBlockTokens);
  KvBlockStorage fresh(kShape, 6);
  EXPECT_EQ(restore_chain(restarted, store, fresh, chain.hashes, chain.tokens, chain.salt), 4);
  EXPECT_EQ(restarted.match_prefix(chain.hashes).ready_blocks, 4);
  EXPECT_EQ(restarted.cached_blocks(), 4);
  EXPECT_EQ(restarted.used_blocks(), 0);
  for (size_t block_idx = 0; block_idx < 4; ++block_idx) {
    const BlockId block = *restarted.find(chain.hashes[block_idx]);
    EXPECT_TRUE(same_bytes(storage, original[block_idx], fresh, block));
    const BlockContent content = restarted.content(block);
    EXPECT_EQ(content.parent, chain.content(static_cast<int>(block_idx)).parent);
  }
  EXPECT_NO_THROW(restarted.check_invariants({}));
  // Nothing more to do once the pool has the chain.
  EXPECT_EQ(restore_chain(restarted, store, fresh, chain.hashes, chain.tokens, chain.salt), 0);
  release_all(pool, table);
}

TEST(RestoreChain, StopsAtTheFirstMissingOrBadFile) {
  const fs::path root = testing::make_temp_dir("spill_restore_gap");
  const Chain chain(4, 300);
  BlockPool pool(4, kBlockTokens);
  KvBlockStorage storage(kShape, 4);
  std::vector<BlockId> table = compute(pool, storage, chain);
  BlockSpillStore store(root, kModel, kShape);
  release_all(pool, table);
  EXPECT_EQ(spill_all(pool, store, storage), 4);

  store.remove(chain.hashes[2]);
  {
    BlockPool restarted(4, kBlockTokens);
    KvBlockStorage fresh(kShape, 4);
    EXPECT_EQ(restore_chain(restarted, store, fresh, chain.hashes, chain.tokens, chain.salt), 2);
    EXPECT_EQ(restarted.match_prefix(chain.hashes).ready_blocks, 2);
  }
  write_all(file_of(store, chain.hashes[1]), std::vector<uint8_t>(5, 0));
  BlockPool restarted(4, kBlockTokens);
  KvBlockStorage fresh(kShape, 4);
  EXPECT_EQ(restore_chain(restarted, store, fresh, chain.hashes, chain.tokens, chain.salt), 1);
  EXPECT_EQ(restarted.free_blocks(), 4);
  EXPECT_EQ(restarted.cached_blocks(), 1);
  EXPECT_FALSE(store.contains(chain.hashes[1]));
  EXPECT_NO_THROW(restarted.check_invariants({}));
}

TEST(RestoreChain, ContinuesACachedPrefixWithoutEvictingIt) {
  const fs::path root = testing::make_temp_dir("spill_restore_small");
  const Chain chain(3, 500);
  BlockSpillStore store(root, kModel, kShape);
  {
    BlockPool pool(3, kBlockTokens);
    KvBlockStorage storage(kShape, 3);
    std::vector<BlockId> table = compute(pool, storage, chain);
    EXPECT_EQ(spill_blocks(pool, store, storage, table), 3);
    release_all(pool, table);
  }
  // Two blocks only, the first one already cached: restoring the second
  // must not evict the first, and the third finds no block.
  BlockPool pool(2, kBlockTokens);
  KvBlockStorage storage(kShape, 2);
  {
    const Chain first(1, 500);
    std::vector<BlockId> table = compute(pool, storage, first);
    ASSERT_EQ(first.hashes[0], chain.hashes[0]);
    release_all(pool, table);
  }
  EXPECT_EQ(restore_chain(pool, store, storage, chain.hashes, chain.tokens, chain.salt), 1);
  EXPECT_EQ(pool.match_prefix(chain.hashes).ready_blocks, 2);
  EXPECT_NO_THROW(pool.check_invariants({}));
  // The deeper block is evicted first.
  const auto block = pool.allocate();
  ASSERT_TRUE(block.has_value());
  EXPECT_EQ(pool.match_prefix(chain.hashes).ready_blocks, 1);
  pool.release(*block);
}

TEST(RestoreChain, WaitsForAPendingBlockAndChecksItsArguments) {
  const fs::path root = testing::make_temp_dir("spill_restore_pending");
  const Chain chain(2, 900);
  BlockSpillStore store(root, kModel, kShape);
  {
    BlockPool pool(2, kBlockTokens);
    KvBlockStorage storage(kShape, 2);
    std::vector<BlockId> table = compute(pool, storage, chain);
    EXPECT_EQ(spill_all(pool, store, storage), 2);
    release_all(pool, table);
  }
  BlockPool pool(3, kBlockTokens);
  KvBlockStorage storage(kShape, 3);
  const auto pending = pool.allocate();
  ASSERT_TRUE(pool.index_pending(*pending, chain.hashes[0], chain.content(0)));
  EXPECT_EQ(restore_chain(pool, store, storage, chain.hashes, chain.tokens, chain.salt), 0);
  EXPECT_THROW(restore_chain(pool, store, storage, chain.hashes, std::span(chain.tokens).first(5),
                             chain.salt),
               Error);
  pool.release(*pending);
  EXPECT_EQ(restore_chain(pool, store, storage, chain.hashes, chain.tokens, chain.salt), 2);
}

// The next-token logits of `seq` (started, its last token not yet computed)
// after computing everything but that token, through `seq`'s block table.
std::vector<float> forward_rest(model::LlamaModel& model, KvBlockStorage& storage,
                                SequenceBlocks& seq, kernels::ThreadPool& threads) {
  const int32_t n_new = seq.n_tokens() - seq.n_computed_tokens();
  EXPECT_EQ(seq.allocate_slots(n_new), AllocResult::kOk);
  const model::SequenceInput input{
      seq.tokens().subspan(static_cast<size_t>(seq.n_computed_tokens())), seq.n_computed_tokens(),
      seq.block_table(), false};
  model::ForwardOutput out;
  model.forward({&input, 1}, storage, out, threads);
  seq.commit(n_new);
  return {out.last(0).begin(), out.last(0).end()};
}

// The whole path on a real model: a conversation's KV computed by a forward
// pass is spilled, a "restarted" engine (fresh storage and pool) restores it
// from disk, starts the next turn on the cached prefix and must produce the
// same logits, bit for bit, as the original engine computing that turn.
TEST(BlockSpillStore, RestoredPrefixGivesIdenticalLogits) {
  using model::testing::make_model;
  using model::testing::small_options;
  const auto file = make_model(small_options(model::Architecture::kQwen2, TensorType::kQ8_0));
  auto model = model::LlamaModel::load(file);
  const model::ModelIdentity identity = model::model_identity(*file);
  kernels::ThreadPool threads(1);
  constexpr int32_t kTokens = 16;
  std::vector<KvTokenId> turn1(3 * kTokens + 5);
  for (size_t token_idx = 0; token_idx < turn1.size(); ++token_idx)
    turn1[token_idx] = static_cast<KvTokenId>((token_idx * 37 + 11) % 512);
  std::vector<KvTokenId> turn2 = turn1;
  for (KvTokenId token : {5, 99, 300, 42, 7, 8, 9, 10, 11, 12, 13, 14}) turn2.push_back(token);

  for (KvType type : {KvType::kF16, KvType::kF32}) {
    const fs::path root = testing::make_temp_dir("spill_model");
    const KvShape shape = model.kv_shape(kTokens, type);
    std::vector<float> expected;
    {
      KvBlockStorage storage(shape, 12);
      BlockPool pool(12, kTokens);
      BlockSpillStore store(root, identity, shape);
      SequenceBlocks first(pool, turn1, "");
      ASSERT_EQ(first.start().status, StartStatus::kStarted);
      forward_rest(model, storage, first, threads);
      EXPECT_EQ(spill_blocks(pool, store, storage, first.block_table()), 3);
      first.release();
      // The original engine answers turn 2 from its in-memory cache.
      SequenceBlocks second(pool, turn2, "");
      ASSERT_EQ(second.start().status, StartStatus::kStarted);
      EXPECT_EQ(second.n_cached_tokens(), 3 * kTokens);
      expected = forward_rest(model, storage, second, threads);
      EXPECT_EQ(spill_all(pool, store, storage), 1);  // turn 2 filled a fourth block
    }

    // Restart: nothing in memory; the first warm turn comes from disk.
    // Restoring the same three blocks the original engine had cached makes
    // the step the very same computation, so the logits must match exactly.
    {
      KvBlockStorage storage(shape, 12);
      BlockPool pool(12, kTokens);
      BlockSpillStore store(root, identity, shape);
      EXPECT_EQ(store.index().size(), 4u);
      SequenceBlocks second(pool, turn2, "");
      EXPECT_EQ(restore_chain(pool, store, storage, second.full_block_hashes().first(3),
                              second.tokens(), second.salt_hash()),
                3);
      ASSERT_EQ(second.start().status, StartStatus::kStarted);
      EXPECT_EQ(second.n_cached_tokens(), 3 * kTokens);
      const std::vector<float> restored = forward_rest(model, storage, second, threads);
      ASSERT_EQ(restored.size(), expected.size());
      EXPECT_EQ(std::memcmp(restored.data(), expected.data(), expected.size() * sizeof(float)), 0)
          << kv_type_name(type);
    }
    // The whole chain (turn 2's fourth block included) leaves one token to
    // compute; a one-token step may round differently from a 17-token one,
    // so this compares closely rather than exactly.
    {
      KvBlockStorage storage(shape, 12);
      BlockPool pool(12, kTokens);
      BlockSpillStore store(root, identity, shape);
      SequenceBlocks second(pool, turn2, "");
      EXPECT_EQ(restore_prefix(pool, store, storage, second), 4);
      ASSERT_EQ(second.start().status, StartStatus::kStarted);
      EXPECT_EQ(second.n_cached_tokens(), 4 * kTokens);
      const std::vector<float> restored = forward_rest(model, storage, second, threads);
      for (size_t logit_idx = 0; logit_idx < expected.size(); ++logit_idx)
        ASSERT_NEAR(restored[logit_idx], expected[logit_idx], 1e-3f) << logit_idx;
    }
    // Another model finds nothing to restore.
    {
      const auto other =
          make_model(small_options(model::Architecture::kQwen2, TensorType::kQ8_0, 8));
      KvBlockStorage storage(shape, 12);
      BlockPool pool(12, kTokens);
      BlockSpillStore store(root, model::model_identity(*other), shape);
      SequenceBlocks second(pool, turn2, "");
      EXPECT_EQ(restore_chain(pool, store, storage, second.full_block_hashes(), second.tokens(),
                              second.salt_hash()),
                0);
    }
  }
}

}  // namespace
}  // namespace tether::kv
