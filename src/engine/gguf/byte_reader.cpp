#include "engine/gguf/byte_reader.h"

#include <bit>
#include <cstring>

namespace tether::gguf {

static_assert(std::endian::native == std::endian::little,
              "GGUF fields are little-endian; this reader copies them as is");

void ByteReader::fail(ErrorCode code, uint64_t offset, std::string_view field,
                      std::string_view problem) const {
  throw_error(code, "gguf: {}: {} at byte {}: {}", source_name_, field, offset, problem);
}

void ByteReader::require(uint64_t n, std::string_view field) const {
  if (n > remaining()) {
    fail(ErrorCode::kCorruptData, position_, field,
         fmt::format("needs {} bytes but only {} remain (file size {})", n, remaining(), size()));
  }
}

template <typename T>
T ByteReader::read_scalar(std::string_view field) {
  require(sizeof(T), field);
  T value;
  std::memcpy(&value, bytes_.data() + position_, sizeof(T));
  position_ += sizeof(T);
  return value;
}

uint8_t ByteReader::read_u8(std::string_view field) { return read_scalar<uint8_t>(field); }
uint16_t ByteReader::read_u16(std::string_view field) { return read_scalar<uint16_t>(field); }
uint32_t ByteReader::read_u32(std::string_view field) { return read_scalar<uint32_t>(field); }
uint64_t ByteReader::read_u64(std::string_view field) { return read_scalar<uint64_t>(field); }
float ByteReader::read_f32(std::string_view field) { return read_scalar<float>(field); }
double ByteReader::read_f64(std::string_view field) { return read_scalar<double>(field); }

std::string ByteReader::read_string(std::string_view field) {
  const uint64_t length_offset = position_;
  const uint64_t length = read_u64(field);
  if (length > remaining()) {
    fail(ErrorCode::kCorruptData, length_offset, field,
         fmt::format("string length {} runs past end of file (size {})", length, size()));
  }
  std::string value(reinterpret_cast<const char*>(bytes_.data() + position_), length);
  position_ += length;
  return value;
}

void ByteReader::require_items(uint64_t count, uint64_t min_item_bytes, std::string_view field,
                               uint64_t count_offset) const {
  if (min_item_bytes != 0 && count > remaining() / min_item_bytes) {
    fail(ErrorCode::kCorruptData, count_offset, field,
         fmt::format("count {} needs at least {} bytes each but only {} bytes remain (size {})",
                     count, min_item_bytes, remaining(), size()));
  }
}

void ByteReader::seek(uint64_t offset, std::string_view field) {
  if (offset > size()) {
    fail(ErrorCode::kCorruptData, position_, field,
         fmt::format("offset {} lies past end of file (size {})", offset, size()));
  }
  position_ = offset;
}

}  // namespace tether::gguf
