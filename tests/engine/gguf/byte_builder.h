#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

namespace tether::gguf::testing {

// Assembles GGUF bytes by hand, so tests can write exactly the (possibly
// broken) layout they want without going through GgufWriter.
class ByteBuilder {
 public:
  ByteBuilder& u8(uint8_t v) { return raw(&v, 1); }
  ByteBuilder& u16(uint16_t v) { return raw(&v, 2); }
  ByteBuilder& u32(uint32_t v) { return raw(&v, 4); }
  ByteBuilder& u64(uint64_t v) { return raw(&v, 8); }
  ByteBuilder& f32(float v) { return raw(&v, 4); }
  ByteBuilder& f64(double v) { return raw(&v, 8); }
  ByteBuilder& str(std::string_view s) {
    u64(s.size());
    return raw(s.data(), s.size());
  }
  ByteBuilder& header(uint32_t version, uint64_t n_tensors, uint64_t n_kv) {
    return u32(0x46554747).u32(version).u64(n_tensors).u64(n_kv);
  }
  ByteBuilder& pad_to(size_t alignment) {
    while (bytes_.size() % alignment != 0) bytes_.push_back(0);
    return *this;
  }
  ByteBuilder& zeros(size_t n) {
    bytes_.resize(bytes_.size() + n, 0);
    return *this;
  }
  ByteBuilder& raw(const void* data, size_t n) {
    const auto* p = static_cast<const uint8_t*>(data);
    bytes_.insert(bytes_.end(), p, p + n);
    return *this;
  }
  size_t size() const { return bytes_.size(); }
  std::vector<uint8_t> bytes() const { return bytes_; }

 private:
  std::vector<uint8_t> bytes_;
};

}  // namespace tether::gguf::testing
