#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/gguf/gguf_value.h"
#include "engine/tensor_type.h"

namespace tether::gguf {

inline constexpr uint32_t kMagic = 0x46554747;  // "GGUF" read little-endian
inline constexpr uint32_t kDefaultAlignment = 32;
inline constexpr std::string_view kAlignmentKey = "general.alignment";

struct KeyValue {
  std::string key;
  Value value;
  uint64_t file_offset = 0;  // where the key's length field starts
};

struct TensorInfo {
  std::string name;
  std::vector<uint64_t> dims;  // dims[0] is the innermost (row length), as in ggml
  TensorType type = TensorType::kF32;
  uint64_t offset = 0;       // relative to the start of the data section
  uint64_t n_elements = 0;
  uint64_t n_bytes = 0;
  uint64_t info_offset = 0;  // file offset of this tensor info, for messages
};

// A parsed, fully validated GGUF file (v2 or v3). Parsing checks every count,
// length, offset and size against the bytes held before reading or
// allocating, and throws tether::Error (kCorruptData / kUnsupported / kIo)
// with a one-line message naming the field and its byte offset.
class GgufFile {
 public:
  // Maps the file read-only; tensor data is read through the mapping.
  static GgufFile open(const std::filesystem::path& path);
  // Parses bytes held in memory (tests, fuzzing); `name` appears in errors.
  static GgufFile from_bytes(std::vector<uint8_t> bytes, std::string name = "<memory>");

  GgufFile(GgufFile&&) noexcept;
  GgufFile& operator=(GgufFile&&) noexcept;
  ~GgufFile();

  const std::string& source_name() const { return source_name_; }
  uint32_t version() const { return version_; }
  uint32_t alignment() const { return alignment_; }
  // Start of the data section: the aligned end of the tensor infos (the file
  // size for a file without tensors that ends before that point).
  uint64_t data_offset() const { return data_offset_; }
  uint64_t file_size() const { return bytes_.size(); }

  const std::vector<KeyValue>& metadata() const { return metadata_; }
  const Value* find(std::string_view key) const;

  // Typed lookups. The get_* forms throw Error naming the key when it is
  // absent or of another type; the find_* forms return nullopt when absent and
  // throw only when present with the wrong type.
  std::string get_string(std::string_view key) const;
  uint64_t get_uint(std::string_view key) const;
  double get_float(std::string_view key) const;
  std::optional<std::string> find_string(std::string_view key) const;
  std::optional<uint64_t> find_uint(std::string_view key) const;
  std::optional<double> find_float(std::string_view key) const;
  std::optional<bool> find_bool(std::string_view key) const;
  // An array of `element_type`; throws if absent or typed otherwise.
  const Array& get_array(std::string_view key, ValueType element_type) const;
  const Array* find_array(std::string_view key, ValueType element_type) const;

  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo* find_tensor(std::string_view name) const;
  // The tensor's bytes inside the file (validated to lie within it).
  std::span<const uint8_t> tensor_data(const TensorInfo& tensor) const;

  // Tells the kernel that the whole pages of the mapping inside `bytes` are
  // not needed for now (a tensor copied elsewhere, e.g. repacked), so they
  // stop counting in the process's resident memory. Reading them later is
  // still correct: they are paged in again from the file. No effect for
  // in-memory files or ranges outside the mapping.
  void release_pages(std::span<const uint8_t> bytes) const;

 private:
  GgufFile() = default;
  void parse();

  std::string source_name_;
  std::span<const uint8_t> bytes_;
  std::vector<uint8_t> owned_bytes_;  // from_bytes keeps the buffer here
  void* mapping_ = nullptr;           // open() keeps the mmap here
  size_t mapping_size_ = 0;

  uint32_t version_ = 0;
  uint32_t alignment_ = kDefaultAlignment;
  uint64_t data_offset_ = 0;
  std::vector<KeyValue> metadata_;
  std::vector<TensorInfo> tensors_;
};

}  // namespace tether::gguf
