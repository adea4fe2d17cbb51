#include "engine/model/model_identity.h"

#include <fmt/format.h>
#include <xxhash.h>

#include <cstring>
#include <memory>
#include <type_traits>

#include "common/error.h"
#include "engine/gguf/gguf_file.h"

namespace tether::model {
namespace {

// Feeds fixed-width little-endian fields into an XXH3-128 state. Strings are
// length-prefixed so adjacent fields cannot run into each other.
class IdentityHasher {
 public:
  IdentityHasher() : state_(XXH3_createState(), &XXH3_freeState) {
    if (!state_ || XXH3_128bits_reset_withSeed(state_.get(), kSeed) != XXH_OK) {
      throw_error(ErrorCode::kInternal, "model identity: cannot initialize the hash state");
    }
  }

  void bytes(const void* data, size_t size) {
    if (size != 0) XXH3_128bits_update(state_.get(), data, size);
  }
  void u64(uint64_t value) {
    uint8_t out[8];
    for (int byte_idx = 0; byte_idx < 8; ++byte_idx)
      out[byte_idx] = static_cast<uint8_t>(value >> (8 * byte_idx));
    bytes(out, sizeof(out));
  }
  void str(std::string_view text) {
    u64(text.size());
    bytes(text.data(), text.size());
  }

  void value(const gguf::Value& value) {
    u64(static_cast<uint64_t>(value.type));
    std::visit(
        [this](const auto& data) {
          using T = std::decay_t<decltype(data)>;
          if constexpr (std::is_same_v<T, uint64_t>) {
            u64(data);
          } else if constexpr (std::is_same_v<T, int64_t>) {
            u64(static_cast<uint64_t>(data));
          } else if constexpr (std::is_same_v<T, double>) {
            uint64_t raw = 0;
            std::memcpy(&raw, &data, sizeof(raw));
            u64(raw);
          } else if constexpr (std::is_same_v<T, bool>) {
            u64(data ? 1 : 0);
          } else if constexpr (std::is_same_v<T, std::string>) {
            str(data);
          } else {
            u64(static_cast<uint64_t>(data.element_type));
            u64(data.items.size());
            for (const gguf::Value& item : data.items) this->value(item);
          }
        },
        value.data);
  }

  ModelIdentity digest() const {
    const XXH128_hash_t hash = XXH3_128bits_digest(state_.get());
    return {hash.high64, hash.low64};
  }

 private:
  static constexpr uint64_t kSeed = 0x6d6f64656c2d6964ull;  // "model-id"
  std::unique_ptr<XXH3_state_t, decltype(&XXH3_freeState)> state_;
};

}  // namespace

std::string ModelIdentity::to_hex() const { return fmt::format("{:016x}{:016x}", high, low); }

ModelIdentity model_identity(const gguf::GgufFile& file) {
  IdentityHasher hasher;
  hasher.str("tether-model-identity-v1");
  hasher.u64(file.version());
  for (const gguf::KeyValue& kv : file.metadata()) {
    if (kv.key == gguf::kAlignmentKey) continue;
    hasher.str(kv.key);
    hasher.value(kv.value);
  }
  hasher.u64(file.tensors().size());
  for (const gguf::TensorInfo& tensor : file.tensors()) {
    hasher.str(tensor.name);
    hasher.u64(static_cast<uint64_t>(tensor.type));
    hasher.u64(tensor.dims.size());
    for (uint64_t dim : tensor.dims) hasher.u64(dim);
  }
  // Data after all the names, so the metadata part is hashed even when a
  // tensor read faults (it cannot for a validated file, but order is free).
  for (const gguf::TensorInfo& tensor : file.tensors()) {
    const std::span<const uint8_t> data = file.tensor_data(tensor);
    hasher.u64(data.size());
    hasher.bytes(data.data(), data.size());
    // Reading faulted the mapping in; let it go again so that fingerprinting
    // does not add a second copy of repacked weights to resident memory.
    // Pages still in use come back from the page cache on their next read.
    file.release_pages(data);
  }
  return hasher.digest();
}

}  // namespace tether::model
