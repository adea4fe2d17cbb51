#pragma once

#include <cstdint>
#include <string>

namespace tether::gguf {
class GgufFile;
}

namespace tether::model {

// A 128-bit fingerprint of everything in a model file that can change the
// keys and values it computes for given token ids. Two files with equal
// identities produce identical KV, so a persistent KV cache keyed by it can
// never serve one model's blocks to another.
struct ModelIdentity {
  uint64_t high = 0;
  uint64_t low = 0;

  // 32 lowercase hex digits, high half first.
  std::string to_hex() const;
  friend bool operator==(const ModelIdentity&, const ModelIdentity&) = default;
};

// XXH3-128 over, in file order: the GGUF version, every metadata key with its
// exact type and value (arrays element by element), every tensor's name,
// type and dims, and every tensor's bytes. All metadata is covered, not only
// the hyperparameters the engine reads today: a key we ignore now may matter
// later, and a needless cache miss after editing e.g. general.name is cheap,
// while serving stale KV is wrong. Tensor data is hashed in full (XXH3 runs
// at several GB/s, so a few hundred ms for a multi-GB file already in the
// page cache): a sample could miss a fine-tune that changes few weights.
// Tensor offsets and the general.alignment key are left out: re-laying out
// the same tensors does not change what the model computes. Values are serialized little-endian
// with fixed widths, so the identity is stable across runs and machines.
ModelIdentity model_identity(const gguf::GgufFile& file);

}  // namespace tether::model
