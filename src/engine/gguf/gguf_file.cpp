#include "engine/gguf/gguf_file.h"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <unordered_set>
#include <utility>

#include "common/error.h"
#include "engine/gguf/byte_reader.h"
#include "engine/gguf/gguf_value_reader.h"

namespace tether::gguf {
namespace {

constexpr uint32_t kMaxDims = 4;
// Smallest tensor info: name length + 1 name byte, n_dims, one dim, type, offset.
constexpr uint64_t kMinTensorInfoBytes = 8 + 1 + 4 + 8 + 4 + 8;
// Smallest key-value: key length + 1 key byte, type id, a one-byte value.
constexpr uint64_t kMinKeyValueBytes = 8 + 1 + 4 + 1;

bool checked_mul(uint64_t a, uint64_t b, uint64_t& out) {
  return !__builtin_mul_overflow(a, b, &out);
}

std::string quoted_key(std::string_view key) {
  // Keys come from the file; keep messages one line and bounded.
  std::string out;
  for (char c : key.substr(0, 80)) {
    out += (static_cast<unsigned char>(c) < 0x20) ? '?' : c;
  }
  if (key.size() > 80) out += "...";
  return "'" + out + "'";
}

struct FileDescriptor {
  int fd = -1;
  ~FileDescriptor() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

GgufFile GgufFile::open(const std::filesystem::path& path) {
  GgufFile file;
  file.source_name_ = path.string();
  FileDescriptor descriptor;
  descriptor.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (descriptor.fd < 0) {
    const int err = errno;
    throw_error(err == ENOENT ? ErrorCode::kNotFound : ErrorCode::kIo, "gguf: {}: cannot open: {}",
                file.source_name_, std::strerror(err));
  }
  struct stat info {};
  if (::fstat(descriptor.fd, &info) != 0) {
    throw_error(ErrorCode::kIo, "gguf: {}: cannot stat: {}", file.source_name_,
                std::strerror(errno));
  }
  if (!S_ISREG(info.st_mode)) {
    throw_error(ErrorCode::kIo, "gguf: {}: not a regular file", file.source_name_);
  }
  const auto size = static_cast<size_t>(info.st_size);
  if (size > 0) {
    void* mapping = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, descriptor.fd, 0);
    if (mapping == MAP_FAILED) {
      throw_error(ErrorCode::kIo, "gguf: {}: cannot mmap {} bytes: {}", file.source_name_, size,
                  std::strerror(errno));
    }
    file.mapping_ = mapping;
    file.mapping_size_ = size;
    file.bytes_ = std::span<const uint8_t>(static_cast<const uint8_t*>(mapping), size);
  }
  file.parse();
  return file;
}

GgufFile GgufFile::from_bytes(std::vector<uint8_t> bytes, std::string name) {
  GgufFile file;
  file.source_name_ = std::move(name);
  file.owned_bytes_ = std::move(bytes);
  file.bytes_ = std::span<const uint8_t>(file.owned_bytes_.data(), file.owned_bytes_.size());
  file.parse();
  return file;
}

GgufFile::GgufFile(GgufFile&& other) noexcept { *this = std::move(other); }

GgufFile& GgufFile::operator=(GgufFile&& other) noexcept {
  if (this == &other) return *this;
  if (mapping_ != nullptr) ::munmap(mapping_, mapping_size_);
  source_name_ = std::move(other.source_name_);
  // A moved vector keeps its heap buffer, so the span stays valid.
  owned_bytes_ = std::move(other.owned_bytes_);
  bytes_ = other.bytes_;
  mapping_ = std::exchange(other.mapping_, nullptr);
  mapping_size_ = std::exchange(other.mapping_size_, 0);
  other.bytes_ = {};
  version_ = other.version_;
  alignment_ = other.alignment_;
  data_offset_ = other.data_offset_;
  metadata_ = std::move(other.metadata_);
  tensors_ = std::move(other.tensors_);
  return *this;
}

GgufFile::~GgufFile() {
  if (mapping_ != nullptr) ::munmap(mapping_, mapping_size_);
}

void GgufFile::parse() {
  ByteReader reader(bytes_, source_name_);

  const uint32_t magic = reader.read_u32("header (magic)");
  if (magic != kMagic) {
    reader.fail(ErrorCode::kCorruptData, 0, "header (magic)",
                fmt::format("not a GGUF file (magic bytes {:02x} {:02x} {:02x} {:02x}, expected "
                            "\"GGUF\")",
                            bytes_[0], bytes_[1], bytes_[2], bytes_[3]));
  }
  version_ = reader.read_u32("header (version)");
  if (version_ != 2 && version_ != 3) {
    std::string problem;
    const uint32_t swapped = __builtin_bswap32(version_);
    if (version_ == 1) {
      problem = "GGUF version 1 is not supported (only versions 2 and 3 are)";
    } else if (swapped >= 1 && swapped <= 3) {
      problem = fmt::format(
          "version field reads {} ({} byte-swapped): the file looks big-endian, and only "
          "little-endian GGUF files are supported",
          version_, swapped);
    } else {
      problem = fmt::format("unknown GGUF version {} (only versions 2 and 3 are supported)",
                            version_);
    }
    reader.fail(ErrorCode::kUnsupported, 4, "header (version)", problem);
  }
  const uint64_t n_tensors_offset = reader.position();
  const uint64_t n_tensors = reader.read_u64("header (tensor count)");
  const uint64_t n_kv_offset = reader.position();
  const uint64_t n_kv = reader.read_u64("header (metadata count)");
  reader.require_items(n_kv, kMinKeyValueBytes, "header (metadata count)", n_kv_offset);

  metadata_.reserve(n_kv);
  std::unordered_set<std::string> keys;
  for (uint64_t kv_idx = 0; kv_idx < n_kv; ++kv_idx) {
    KeyValue kv;
    kv.file_offset = reader.position();
    const std::string key_field = fmt::format("metadata {} (key)", kv_idx);
    kv.key = reader.read_string(key_field);
    if (kv.key.empty()) reader.fail(ErrorCode::kCorruptData, kv.file_offset, key_field, "empty key");
    if (!keys.insert(kv.key).second) {
      reader.fail(ErrorCode::kCorruptData, kv.file_offset, key_field,
                  fmt::format("duplicate key {}", quoted_key(kv.key)));
    }
    const std::string type_field = fmt::format("metadata {} {} (type)", kv_idx, quoted_key(kv.key));
    const uint64_t type_offset = reader.position();
    const uint32_t type_id = reader.read_u32(type_field);
    const std::string value_field =
        fmt::format("metadata {} {} (value)", kv_idx, quoted_key(kv.key));
    kv.value = read_value(reader, type_id, type_offset, value_field);

    if (kv.key == kAlignmentKey) {
      const auto* alignment = std::get_if<uint64_t>(&kv.value.data);
      if (kv.value.type != ValueType::kUint32) {
        reader.fail(ErrorCode::kCorruptData, type_offset, value_field,
                    fmt::format("general.alignment must be uint32, not {}",
                                value_type_name(kv.value.type)));
      }
      if (*alignment == 0 || !std::has_single_bit(*alignment)) {
        reader.fail(ErrorCode::kCorruptData, type_offset + 4, value_field,
                    fmt::format("general.alignment {} is not a nonzero power of two", *alignment));
      }
      alignment_ = static_cast<uint32_t>(*alignment);
    }
    metadata_.push_back(std::move(kv));
  }

  reader.require_items(n_tensors, kMinTensorInfoBytes, "header (tensor count)", n_tensors_offset);
  tensors_.reserve(n_tensors);
  std::unordered_set<std::string> names;
  for (uint64_t tensor_idx = 0; tensor_idx < n_tensors; ++tensor_idx) {
    TensorInfo tensor;
    tensor.info_offset = reader.position();
    const std::string name_field = fmt::format("tensor info {} (name)", tensor_idx);
    tensor.name = reader.read_string(name_field);
    if (!names.insert(tensor.name).second) {
      reader.fail(ErrorCode::kCorruptData, tensor.info_offset, name_field,
                  fmt::format("duplicate tensor name {}", quoted_key(tensor.name)));
    }
    const std::string prefix = fmt::format("tensor info {} {}", tensor_idx, quoted_key(tensor.name));

    const std::string dims_field = prefix + " (n_dims)";
    const uint64_t n_dims_offset = reader.position();
    const uint32_t n_dims = reader.read_u32(dims_field);
    if (n_dims < 1 || n_dims > kMaxDims) {
      reader.fail(ErrorCode::kCorruptData, n_dims_offset, dims_field,
                  fmt::format("n_dims {} is outside 1..{}", n_dims, kMaxDims));
    }
    const std::string dim_field = prefix + " (dims)";
    uint64_t n_elements = 1;
    for (uint32_t dim_idx = 0; dim_idx < n_dims; ++dim_idx) {
      const uint64_t dim_offset = reader.position();
      const uint64_t dim = reader.read_u64(dim_field);
      if (dim == 0) {
        reader.fail(ErrorCode::kCorruptData, dim_offset, dim_field,
                    fmt::format("dimension {} is 0", dim_idx));
      }
      if (!checked_mul(n_elements, dim, n_elements)) {
        reader.fail(ErrorCode::kCorruptData, dim_offset, dim_field,
                    fmt::format("element count overflows 64 bits at dimension {} ({})", dim_idx,
                                dim));
      }
      tensor.dims.push_back(dim);
    }
    tensor.n_elements = n_elements;

    const std::string type_field = prefix + " (type)";
    const uint64_t type_offset = reader.position();
    const uint32_t type_id = reader.read_u32(type_field);
    const auto traits = tensor_type_traits(type_id);
    if (!traits) {
      reader.fail(ErrorCode::kUnsupported, type_offset, type_field,
                  fmt::format("unknown tensor type id {}", type_id));
    }
    tensor.type = traits->type;
    if (tensor.dims[0] % traits->block_elems != 0) {
      reader.fail(ErrorCode::kCorruptData, type_offset, type_field,
                  fmt::format("row length {} is not a multiple of {}'s block size {}",
                              tensor.dims[0], traits->name, traits->block_elems));
    }
    if (!checked_mul(n_elements / traits->block_elems, traits->block_bytes, tensor.n_bytes)) {
      reader.fail(ErrorCode::kCorruptData, type_offset, type_field,
                  "tensor byte size overflows 64 bits");
    }

    const std::string offset_field = prefix + " (offset)";
    const uint64_t offset_offset = reader.position();
    tensor.offset = reader.read_u64(offset_field);
    if (tensor.offset % alignment_ != 0) {
      reader.fail(ErrorCode::kCorruptData, offset_offset, offset_field,
                  fmt::format("data offset {} is not a multiple of the alignment {}",
                              tensor.offset, alignment_));
    }
    tensors_.push_back(std::move(tensor));
  }

  // The data section starts at the aligned end of the tensor infos.
  const uint64_t infos_end = reader.position();
  data_offset_ = (infos_end + alignment_ - 1) / alignment_ * alignment_;
  if (data_offset_ > bytes_.size()) {
    if (!tensors_.empty()) {
      reader.fail(ErrorCode::kCorruptData, infos_end, "data section",
                  fmt::format("starts at byte {}, past end of file (size {})", data_offset_,
                              bytes_.size()));
    }
    // Writers leave out the padding when there is no data (vocab-only files).
    data_offset_ = bytes_.size();
  }

  const uint64_t data_bytes = bytes_.size() - std::min<uint64_t>(data_offset_, bytes_.size());
  std::vector<const TensorInfo*> by_offset;
  by_offset.reserve(tensors_.size());
  for (const auto& tensor : tensors_) {
    if (tensor.offset > data_bytes || tensor.n_bytes > data_bytes - tensor.offset) {
      reader.fail(ErrorCode::kCorruptData, tensor.info_offset,
                  fmt::format("tensor {} (data)", quoted_key(tensor.name)),
                  fmt::format("{} bytes at data offset {} run past end of file (data section "
                              "holds {} bytes, file size {})",
                              tensor.n_bytes, tensor.offset, data_bytes, bytes_.size()));
    }
    by_offset.push_back(&tensor);
  }
  std::sort(by_offset.begin(), by_offset.end(),
            [](const TensorInfo* a, const TensorInfo* b) { return a->offset < b->offset; });
  for (size_t idx = 1; idx < by_offset.size(); ++idx) {
    const TensorInfo& prev = *by_offset[idx - 1];
    const TensorInfo& next = *by_offset[idx];
    if (prev.offset + prev.n_bytes > next.offset) {
      reader.fail(ErrorCode::kCorruptData, next.info_offset,
                  fmt::format("tensor {} (offset)", quoted_key(next.name)),
                  fmt::format("data at offset {} overlaps tensor {} ({} bytes at offset {})",
                              next.offset, quoted_key(prev.name), prev.n_bytes, prev.offset));
    }
  }
}

const Value* GgufFile::find(std::string_view key) const {
  for (const auto& kv : metadata_) {
    if (kv.key == key) return &kv.value;
  }
  return nullptr;
}

namespace {

[[noreturn]] void wrong_type(const std::string& source, std::string_view key, const Value& value,
                             std::string_view wanted) {
  throw_error(ErrorCode::kCorruptData, "gguf: {}: metadata '{}' is {}, expected {}", source, key,
              value_type_name(value.type), wanted);
}

bool is_unsigned_type(ValueType type) {
  return type == ValueType::kUint8 || type == ValueType::kUint16 || type == ValueType::kUint32 ||
         type == ValueType::kUint64;
}

bool is_signed_type(ValueType type) {
  return type == ValueType::kInt8 || type == ValueType::kInt16 || type == ValueType::kInt32 ||
         type == ValueType::kInt64;
}

}  // namespace

std::optional<std::string> GgufFile::find_string(std::string_view key) const {
  const Value* value = find(key);
  if (value == nullptr) return std::nullopt;
  const std::string* s = value->as_string();
  if (s == nullptr) wrong_type(source_name_, key, *value, "string");
  return *s;
}

std::optional<uint64_t> GgufFile::find_uint(std::string_view key) const {
  const Value* value = find(key);
  if (value == nullptr) return std::nullopt;
  // Writers disagree on signedness (int32 vs uint32 for counts); accept either
  // integer kind when the value is non-negative.
  if (!is_unsigned_type(value->type) && !is_signed_type(value->type)) {
    wrong_type(source_name_, key, *value, "an unsigned integer");
  }
  const auto u = value->as_uint();
  if (!u) {
    throw_error(ErrorCode::kCorruptData, "gguf: {}: metadata '{}' is negative ({})", source_name_,
                key, *value->as_int());
  }
  return u;
}

std::optional<double> GgufFile::find_float(std::string_view key) const {
  const Value* value = find(key);
  if (value == nullptr) return std::nullopt;
  const auto f = value->as_float();
  if (!f) wrong_type(source_name_, key, *value, "a number");
  return f;
}

std::optional<bool> GgufFile::find_bool(std::string_view key) const {
  const Value* value = find(key);
  if (value == nullptr) return std::nullopt;
  const auto b = value->as_bool();
  if (!b) wrong_type(source_name_, key, *value, "bool");
  return b;
}

std::string GgufFile::get_string(std::string_view key) const {
  auto value = find_string(key);
  if (!value) throw_error(ErrorCode::kNotFound, "gguf: {}: metadata '{}' is missing", source_name_, key);
  return *value;
}

uint64_t GgufFile::get_uint(std::string_view key) const {
  auto value = find_uint(key);
  if (!value) throw_error(ErrorCode::kNotFound, "gguf: {}: metadata '{}' is missing", source_name_, key);
  return *value;
}

double GgufFile::get_float(std::string_view key) const {
  auto value = find_float(key);
  if (!value) throw_error(ErrorCode::kNotFound, "gguf: {}: metadata '{}' is missing", source_name_, key);
  return *value;
}

const Array* GgufFile::find_array(std::string_view key, ValueType element_type) const {
  const Value* value = find(key);
  if (value == nullptr) return nullptr;
  const Array* array = value->as_array();
  if (array == nullptr) wrong_type(source_name_, key, *value, "an array");
  if (array->element_type != element_type) {
    throw_error(ErrorCode::kCorruptData, "gguf: {}: metadata '{}' is an array of {}, expected {}",
                source_name_, key, value_type_name(array->element_type),
                value_type_name(element_type));
  }
  return array;
}

const Array& GgufFile::get_array(std::string_view key, ValueType element_type) const {
  const Array* array = find_array(key, element_type);
  if (array == nullptr) {
    throw_error(ErrorCode::kNotFound, "gguf: {}: metadata '{}' is missing", source_name_, key);
  }
  return *array;
}

const TensorInfo* GgufFile::find_tensor(std::string_view name) const {
  for (const auto& tensor : tensors_) {
    if (tensor.name == name) return &tensor;
  }
  return nullptr;
}

std::span<const uint8_t> GgufFile::tensor_data(const TensorInfo& tensor) const {
  // Parsing checked that every tensor lies within the file.
  return bytes_.subspan(data_offset_ + tensor.offset, tensor.n_bytes);
}

void GgufFile::release_pages(std::span<const uint8_t> bytes) const {
  if (mapping_ == nullptr || bytes.empty()) return;
  const auto map_begin = reinterpret_cast<uintptr_t>(mapping_);
  const uintptr_t map_end = map_begin + mapping_size_;
  const auto begin = reinterpret_cast<uintptr_t>(bytes.data());
  const uintptr_t end = begin + bytes.size();
  if (begin < map_begin || end > map_end) return;
  const auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const uintptr_t first = (begin + page - 1) / page * page;
  const uintptr_t last = end / page * page;
  if (first >= last) return;
  // Advisory: a failure only means the pages stay resident.
  ::madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);
}

}  // namespace tether::gguf
