#include "engine/gguf/gguf_writer.h"

#include <atomic>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <unistd.h>

#include "common/error.h"
#include "engine/gguf/gguf_file.h"
#include "engine/gguf/gguf_value_reader.h"

namespace tether::gguf {
namespace {

// ggml keeps tensor names in a 64-byte buffer with a terminating NUL.
constexpr size_t kMaxTensorNameBytes = 63;
constexpr size_t kMaxDims = 4;

// Appends to a byte vector.
class MemorySink {
 public:
  explicit MemorySink(std::vector<uint8_t>& out) : out_(out) {}
  void write(const void* data, size_t n) {
    const auto* p = static_cast<const uint8_t*>(data);
    out_.insert(out_.end(), p, p + n);
  }
  void write_tensor(uint64_t n_bytes, const GgufWriter::TensorFiller& fill) {
    const size_t start = out_.size();
    out_.resize(start + n_bytes);
    fill(std::span<uint8_t>(out_.data() + start, n_bytes));
  }
  uint64_t position() const { return out_.size(); }

 private:
  std::vector<uint8_t>& out_;
};

// Streams to a stdio file; tensors pass through one reused buffer.
class FileSink {
 public:
  FileSink(std::FILE* file, std::string name) : file_(file), name_(std::move(name)) {}
  void write(const void* data, size_t n) {
    if (n != 0 && std::fwrite(data, 1, n, file_) != n) {
      throw_error(ErrorCode::kIo, "gguf: {}: write failed: {}", name_, std::strerror(errno));
    }
    position_ += n;
  }
  void write_tensor(uint64_t n_bytes, const GgufWriter::TensorFiller& fill) {
    buffer_.assign(n_bytes, 0);
    fill(std::span<uint8_t>(buffer_.data(), buffer_.size()));
    write(buffer_.data(), buffer_.size());
  }
  uint64_t position() const { return position_; }

 private:
  std::FILE* file_;
  std::string name_;
  std::vector<uint8_t> buffer_;
  uint64_t position_ = 0;
};

template <typename Sink, typename T>
void put(Sink& sink, T value) {
  static_assert(std::endian::native == std::endian::little);
  sink.write(&value, sizeof(T));
}

template <typename Sink>
void put_string(Sink& sink, const std::string& s) {
  put<Sink, uint64_t>(sink, s.size());
  sink.write(s.data(), s.size());
}

template <typename Sink>
void pad_to(Sink& sink, uint32_t alignment) {
  static const uint8_t kZeros[256] = {};
  uint64_t pad = (alignment - sink.position() % alignment) % alignment;
  while (pad > 0) {
    const uint64_t n = std::min<uint64_t>(pad, sizeof(kZeros));
    sink.write(kZeros, n);
    pad -= n;
  }
}

[[noreturn]] void bad_value(std::string_view key, std::string_view problem) {
  throw_error(ErrorCode::kInvalidArgument, "gguf writer: metadata '{}': {}", key, problem);
}

// Checks that a value's payload matches its declared type (and fits it), so
// what is written reads back as the same value.
void check_value(std::string_view key, const Value& value, int depth) {
  auto uint_fits = [&](uint64_t max) {
    const auto* u = std::get_if<uint64_t>(&value.data);
    if (u == nullptr) bad_value(key, fmt::format("{} value does not hold an unsigned integer",
                                                 value_type_name(value.type)));
    if (*u > max) bad_value(key, fmt::format("{} does not fit {}", *u, value_type_name(value.type)));
  };
  auto int_fits = [&](int64_t min, int64_t max) {
    const auto* i = std::get_if<int64_t>(&value.data);
    if (i == nullptr) bad_value(key, fmt::format("{} value does not hold a signed integer",
                                                 value_type_name(value.type)));
    if (*i < min || *i > max) {
      bad_value(key, fmt::format("{} does not fit {}", *i, value_type_name(value.type)));
    }
  };
  switch (value.type) {
    case ValueType::kUint8: return uint_fits(std::numeric_limits<uint8_t>::max());
    case ValueType::kUint16: return uint_fits(std::numeric_limits<uint16_t>::max());
    case ValueType::kUint32: return uint_fits(std::numeric_limits<uint32_t>::max());
    case ValueType::kUint64: return uint_fits(std::numeric_limits<uint64_t>::max());
    case ValueType::kInt8: return int_fits(INT8_MIN, INT8_MAX);
    case ValueType::kInt16: return int_fits(INT16_MIN, INT16_MAX);
    case ValueType::kInt32: return int_fits(INT32_MIN, INT32_MAX);
    case ValueType::kInt64: return int_fits(INT64_MIN, INT64_MAX);
    case ValueType::kFloat32:
    case ValueType::kFloat64:
      if (!std::holds_alternative<double>(value.data)) bad_value(key, "float value does not hold a double");
      return;
    case ValueType::kBool:
      if (!std::holds_alternative<bool>(value.data)) bad_value(key, "bool value does not hold a bool");
      return;
    case ValueType::kString:
      if (!std::holds_alternative<std::string>(value.data)) bad_value(key, "string value does not hold a string");
      return;
    case ValueType::kArray: {
      const Array* array = std::get_if<Array>(&value.data);
      if (array == nullptr) bad_value(key, "array value does not hold an array");
      if (depth + 1 >= kMaxArrayDepth && array->element_type == ValueType::kArray) {
        bad_value(key, fmt::format("arrays nest deeper than {} levels", kMaxArrayDepth));
      }
      for (const Value& item : array->items) {
        if (item.type != array->element_type) {
          bad_value(key, fmt::format("array of {} holds a {}", value_type_name(array->element_type),
                                     value_type_name(item.type)));
        }
        check_value(key, item, depth + 1);
      }
      return;
    }
  }
  bad_value(key, fmt::format("unknown value type id {}", static_cast<uint32_t>(value.type)));
}

template <typename Sink>
void put_value(Sink& sink, const Value& value) {
  switch (value.type) {
    case ValueType::kUint8: return put(sink, static_cast<uint8_t>(std::get<uint64_t>(value.data)));
    case ValueType::kUint16: return put(sink, static_cast<uint16_t>(std::get<uint64_t>(value.data)));
    case ValueType::kUint32: return put(sink, static_cast<uint32_t>(std::get<uint64_t>(value.data)));
    case ValueType::kUint64: return put(sink, std::get<uint64_t>(value.data));
    case ValueType::kInt8: return put(sink, static_cast<int8_t>(std::get<int64_t>(value.data)));
    case ValueType::kInt16: return put(sink, static_cast<int16_t>(std::get<int64_t>(value.data)));
    case ValueType::kInt32: return put(sink, static_cast<int32_t>(std::get<int64_t>(value.data)));
    case ValueType::kInt64: return put(sink, std::get<int64_t>(value.data));
    case ValueType::kFloat32: return put(sink, static_cast<float>(std::get<double>(value.data)));
    case ValueType::kFloat64: return put(sink, std::get<double>(value.data));
    case ValueType::kBool: return put(sink, static_cast<uint8_t>(std::get<bool>(value.data) ? 1 : 0));
    case ValueType::kString: return put_string(sink, std::get<std::string>(value.data));
    case ValueType::kArray: {
      const Array& array = std::get<Array>(value.data);
      put(sink, static_cast<uint32_t>(array.element_type));
      put<Sink, uint64_t>(sink, array.items.size());
      for (const Value& item : array.items) put_value(sink, item);
      return;
    }
  }
}

}  // namespace

GgufWriter::GgufWriter(uint32_t version, uint32_t alignment)
    : version_(version), alignment_(alignment) {
  if (version != 2 && version != 3) {
    throw_error(ErrorCode::kInvalidArgument, "gguf writer: version {} is not 2 or 3", version);
  }
  if (alignment == 0 || !std::has_single_bit(alignment)) {
    throw_error(ErrorCode::kInvalidArgument,
                "gguf writer: alignment {} is not a nonzero power of two", alignment);
  }
  // Readers take the alignment from this key; 32 is their default.
  if (alignment != kDefaultAlignment) set(std::string(kAlignmentKey), Value::of_u32(alignment));
}

void GgufWriter::set(const std::string& key, Value value) {
  if (key.empty()) throw_error(ErrorCode::kInvalidArgument, "gguf writer: empty metadata key");
  check_value(key, value, 0);
  if (key == kAlignmentKey &&
      (value.type != ValueType::kUint32 || value.as_uint() != alignment_)) {
    throw_error(ErrorCode::kInvalidArgument,
                "gguf writer: general.alignment must be the writer's alignment ({}) as uint32",
                alignment_);
  }
  for (auto& [existing_key, existing_value] : metadata_) {
    if (existing_key == key) {
      existing_value = std::move(value);
      return;
    }
  }
  metadata_.emplace_back(key, std::move(value));
}

void GgufWriter::add_tensor(const std::string& name, TensorType type, std::vector<uint64_t> dims,
                            TensorFiller fill) {
  if (name.empty() || name.size() > kMaxTensorNameBytes) {
    throw_error(ErrorCode::kInvalidArgument,
                "gguf writer: tensor name '{}' must be 1..{} bytes", name, kMaxTensorNameBytes);
  }
  for (const auto& tensor : tensors_) {
    if (tensor.name == name) {
      throw_error(ErrorCode::kInvalidArgument, "gguf writer: duplicate tensor '{}'", name);
    }
  }
  if (dims.empty() || dims.size() > kMaxDims) {
    throw_error(ErrorCode::kInvalidArgument, "gguf writer: tensor '{}' has {} dims (1..{})", name,
                dims.size(), kMaxDims);
  }
  const TensorTypeTraits traits = traits_of(type);
  uint64_t n_elements = 1;
  for (uint64_t dim : dims) {
    if (dim == 0 || __builtin_mul_overflow(n_elements, dim, &n_elements)) {
      throw_error(ErrorCode::kInvalidArgument,
                  "gguf writer: tensor '{}' has a zero or overflowing dimension", name);
    }
  }
  if (dims[0] % traits.block_elems != 0) {
    throw_error(ErrorCode::kInvalidArgument,
                "gguf writer: tensor '{}' row length {} is not a multiple of {}'s block size {}",
                name, dims[0], traits.name, traits.block_elems);
  }
  uint64_t n_bytes = 0;
  if (__builtin_mul_overflow(n_elements / traits.block_elems, uint64_t{traits.block_bytes},
                             &n_bytes)) {
    throw_error(ErrorCode::kInvalidArgument, "gguf writer: tensor '{}' is too large", name);
  }
  if (!fill) throw_error(ErrorCode::kInvalidArgument, "gguf writer: tensor '{}' has no filler", name);
  tensors_.push_back(PendingTensor{name, type, std::move(dims), n_bytes, std::move(fill)});
}

void GgufWriter::add_tensor(const std::string& name, TensorType type, std::vector<uint64_t> dims,
                            std::vector<uint8_t> data) {
  auto shared = std::make_shared<std::vector<uint8_t>>(std::move(data));
  add_tensor(name, type, std::move(dims), [shared](std::span<uint8_t> out) {
    std::memcpy(out.data(), shared->data(), out.size());
  });
  if (tensors_.back().n_bytes != shared->size()) {
    const uint64_t expected = tensors_.back().n_bytes;
    tensors_.pop_back();
    throw_error(ErrorCode::kInvalidArgument, "gguf writer: tensor '{}' needs {} bytes, got {}",
                name, expected, shared->size());
  }
}

template <typename Sink>
void GgufWriter::write_to(Sink& sink) const {
  put(sink, kMagic);
  put(sink, version_);
  put<Sink, uint64_t>(sink, tensors_.size());
  put<Sink, uint64_t>(sink, metadata_.size());
  for (const auto& [key, value] : metadata_) {
    put_string(sink, key);
    put(sink, static_cast<uint32_t>(value.type));
    put_value(sink, value);
  }
  uint64_t offset = 0;
  for (const auto& tensor : tensors_) {
    put_string(sink, tensor.name);
    put(sink, static_cast<uint32_t>(tensor.dims.size()));
    for (uint64_t dim : tensor.dims) put(sink, dim);
    put(sink, static_cast<uint32_t>(tensor.type));
    put(sink, offset);
    offset += (tensor.n_bytes + alignment_ - 1) / alignment_ * alignment_;
  }
  // Like llama.cpp's writers, a file without tensors ends after its metadata.
  if (!tensors_.empty()) pad_to(sink, alignment_);
  for (const auto& tensor : tensors_) {
    sink.write_tensor(tensor.n_bytes, tensor.fill);
    pad_to(sink, alignment_);
  }
}

std::vector<uint8_t> GgufWriter::write_to_memory() const {
  std::vector<uint8_t> out;
  MemorySink sink(out);
  write_to(sink);
  return out;
}

void GgufWriter::write_file(const std::filesystem::path& path) const {
  static std::atomic<uint64_t> counter{0};
  auto temp = path;
  temp += fmt::format(".tmp-{}-{}", ::getpid(), counter++);
  std::FILE* file = std::fopen(temp.c_str(), "wb");
  if (file == nullptr) {
    throw_error(ErrorCode::kIo, "gguf writer: cannot create {}: {}", temp.string(),
                std::strerror(errno));
  }
  try {
    FileSink sink(file, temp.string());
    write_to(sink);
    if (std::fflush(file) != 0 || ::fsync(::fileno(file)) != 0) {
      throw_error(ErrorCode::kIo, "gguf writer: cannot flush {}: {}", temp.string(),
                  std::strerror(errno));
    }
  } catch (...) {
    std::fclose(file);
    std::error_code ignored;
    std::filesystem::remove(temp, ignored);
    throw;
  }
  std::error_code ec;
  if (std::fclose(file) != 0) {
    std::filesystem::remove(temp, ec);
    throw_error(ErrorCode::kIo, "gguf writer: cannot close {}: {}", temp.string(),
                std::strerror(errno));
  }
  std::filesystem::rename(temp, path, ec);
  if (ec) {
    std::error_code ignored;
    std::filesystem::remove(temp, ignored);
    throw_error(ErrorCode::kIo, "gguf writer: cannot rename {} to {}: {}", temp.string(),
                path.string(), ec.message());
  }
}

}  // namespace tether::gguf
