// libFuzzer target for the persistent prefix cache's block files: the input
// edits a valid block file (XOR over its bytes, optional truncation or
// growth), which the store then loads. Loading must never crash, must leave
// the target block untouched when it rejects the file, and may only accept
// a file whose block bytes are exactly the ones saved.
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

#include "engine/model/model_identity.h"
#include "kv/block_hash.h"
#include "kv/block_spill_store.h"
#include "kv/kv_block_storage.h"

namespace {

namespace fs = std::filesystem;
using namespace tether;

constexpr kv::KvShape kShape{2, 1, 32, 4, kv::KvType::kF16};
const model::ModelIdentity kIdentity{0x1234, 0x5678};

struct Fixture {
  fs::path root;
  fs::path file;
  std::vector<uint8_t> valid;  // the saved file
  std::vector<kv::KvTokenId> tokens = {11, 22, 33, 44};
  kv::SaltHash salt = kv::hash_salt("fuzz");
  kv::BlockHash hash{};
  kv::KvBlockStorage storage{kShape, 3};

  Fixture() {
    root = fs::temp_directory_path() / ("tether_spill_fuzz_" + std::to_string(::getpid()));
    fs::remove_all(root);
    std::vector<float> k(kShape.n_kv_heads * kShape.head_dim), v(k.size());
    for (int32_t layer = 0; layer < kShape.n_layers; ++layer) {
      for (int32_t slot = 0; slot < kShape.block_tokens; ++slot) {
        for (size_t i = 0; i < k.size(); ++i) {
          k[i] = 0.01f * static_cast<float>(i + 7 * slot + 31 * layer);
          v[i] = -k[i];
        }
        storage.write(kv::BlockId{0}, slot, layer, k.data(), v.data());
      }
    }
    hash = kv::hash_block(kv::kRootBlockHash, tokens, salt);
    kv::BlockSpillStore store(root, kIdentity, kShape);
    const kv::BlockContent content{kv::kRootBlockHash, salt, tokens};
    if (!store.save(hash, content, storage, kv::BlockId{0})) std::abort();
    for (const auto& entry : fs::directory_iterator(store.directory())) file = entry.path();
    std::ifstream in(file, std::ios::binary);
    valid.assign(std::istreambuf_iterator<char>(in), {});
  }
};

Fixture& fixture() {
  static Fixture f;
  return f;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Fixture& f = fixture();
  std::vector<uint8_t> bytes = f.valid;
  if (size >= 2) {
    // data[0] picks the length: keep, cut to data[1]/256 of it, or grow.
    if (data[0] % 4 == 1) bytes.resize(bytes.size() * data[1] / 256);
    if (data[0] % 4 == 2) bytes.resize(bytes.size() + data[1], data[1]);
    for (size_t i = 2; i < size && !bytes.empty(); ++i) bytes[(i - 2) % bytes.size()] ^= data[i];
  }
  {
    std::ofstream out(f.file, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  }
  // A fresh store indexes the directory as a restarted server would.
  kv::BlockSpillStore store(f.root, kIdentity, kShape);
  std::vector<uint8_t> before(f.storage.block_bytes());
  std::memcpy(before.data(), f.storage.head_run(kv::BlockId{1}, 0, false, 0), before.size());
  const kv::BlockContent expected{kv::kRootBlockHash, f.salt, f.tokens};
  const kv::SpillStatus status = store.load(f.hash, expected, f.storage, kv::BlockId{1});
  const uint8_t* loaded = f.storage.head_run(kv::BlockId{1}, 0, false, 0);
  if (status) {
    // Accepted: the block must hold exactly what was saved.
    if (std::memcmp(loaded, f.storage.head_run(kv::BlockId{0}, 0, false, 0), before.size()) != 0) std::abort();
    std::memset(f.storage.head_run(kv::BlockId{1}, 0, false, 0), 0, before.size());
  } else if (std::memcmp(loaded, before.data(), before.size()) != 0) {
    std::abort();  // rejected, yet the block changed
  }
  return 0;
}
