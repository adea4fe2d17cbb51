#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "common/error.h"

namespace tether::gguf {

// A bounds-checked little-endian cursor over untrusted bytes. Every read
// checks that the bytes exist first; failures throw tether::Error with a
// one-line message naming the source, the field and the byte offset.
class ByteReader {
 public:
  ByteReader(std::span<const uint8_t> bytes, std::string_view source_name)
      : bytes_(bytes), source_name_(source_name) {}

  uint64_t position() const { return position_; }
  uint64_t size() const { return bytes_.size(); }
  uint64_t remaining() const { return bytes_.size() - position_; }

  uint8_t read_u8(std::string_view field);
  uint16_t read_u16(std::string_view field);
  uint32_t read_u32(std::string_view field);
  uint64_t read_u64(std::string_view field);
  float read_f32(std::string_view field);
  double read_f64(std::string_view field);
  // A GGUF string: uint64 byte length, then that many bytes (kept as is, even
  // when they are not valid UTF-8).
  std::string read_string(std::string_view field);

  // Throws unless `count` items of at least `min_item_bytes` each could still
  // fit in what remains, so a corrupt count never drives a huge allocation.
  void require_items(uint64_t count, uint64_t min_item_bytes, std::string_view field,
                     uint64_t count_offset) const;

  // Moves the cursor to `offset`, which must lie within the bytes.
  void seek(uint64_t offset, std::string_view field);

  [[noreturn]] void fail(ErrorCode code, uint64_t offset, std::string_view field,
                         std::string_view problem) const;

 private:
  // Throws unless `n` more bytes are available at the cursor.
  void require(uint64_t n, std::string_view field) const;
  template <typename T>
  T read_scalar(std::string_view field);

  std::span<const uint8_t> bytes_;
  std::string_view source_name_;
  uint64_t position_ = 0;
};

}  // namespace tether::gguf
