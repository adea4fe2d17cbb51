#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "engine/gguf/gguf_value.h"
#include "engine/tensor_type.h"

namespace tether::gguf {

// Builds a GGUF file (v3 by default) with standard layout: header, metadata in
// insertion order, tensor infos, padding to the alignment, tensor data (each
// tensor aligned). Output loads in other GGUF readers.
class GgufWriter {
 public:
  // Fills a tensor's bytes when the file is written (so large models need not
  // sit in memory at once). `out` has exactly the tensor's byte size.
  using TensorFiller = std::function<void(std::span<uint8_t> out)>;

  explicit GgufWriter(uint32_t version = 3, uint32_t alignment = 32);

  // Sets a key (replacing an earlier value of that key in place).
  void set(const std::string& key, Value value);
  // Adds a tensor; dims[0] is the row length and must be a multiple of the
  // type's block size. Throws Error(kInvalidArgument) on bad shapes or names.
  void add_tensor(const std::string& name, TensorType type, std::vector<uint64_t> dims,
                  TensorFiller fill);
  void add_tensor(const std::string& name, TensorType type, std::vector<uint64_t> dims,
                  std::vector<uint8_t> data);

  // Writes atomically: to a temporary file beside `path`, then renamed over it.
  void write_file(const std::filesystem::path& path) const;
  std::vector<uint8_t> write_to_memory() const;

 private:
  struct PendingTensor {
    std::string name;
    TensorType type;
    std::vector<uint64_t> dims;
    uint64_t n_bytes;
    TensorFiller fill;
  };
  template <typename Sink>
  void write_to(Sink& sink) const;

  uint32_t version_;
  uint32_t alignment_;
  std::vector<std::pair<std::string, Value>> metadata_;
  std::vector<PendingTensor> tensors_;
};

}  // namespace tether::gguf
