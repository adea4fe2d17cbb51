#include "engine/tokenizer/unicode.h"

namespace tether::tokenizer::unicode {
namespace {

bool is_continuation(uint8_t byte) { return (byte & 0xC0) == 0x80; }

// The valid range of the second byte of a sequence depends on its lead byte
// (this is what excludes overlongs, surrogates and values past U+10FFFF).
struct LeadInfo {
  size_t length = 0;  // 0: not a lead byte
  uint8_t second_min = 0x80;
  uint8_t second_max = 0xBF;
};

LeadInfo lead_info(uint8_t lead) {
  if (lead < 0x80) return {1, 0, 0};
  if (lead < 0xC2) return {};
  if (lead < 0xE0) return {2, 0x80, 0xBF};
  if (lead == 0xE0) return {3, 0xA0, 0xBF};
  if (lead == 0xED) return {3, 0x80, 0x9F};
  if (lead < 0xF0) return {3, 0x80, 0xBF};
  if (lead == 0xF0) return {4, 0x90, 0xBF};
  if (lead < 0xF4) return {4, 0x80, 0xBF};
  if (lead == 0xF4) return {4, 0x80, 0x8F};
  return {};
}

// How many bytes from `pos` belong to a valid (possibly unfinished) sequence.
size_t valid_prefix_length(std::string_view text, size_t pos, size_t* full_length) {
  const auto lead = static_cast<uint8_t>(text[pos]);
  const LeadInfo info = lead_info(lead);
  *full_length = info.length;
  if (info.length == 0) return 0;
  if (info.length == 1) return 1;
  size_t n = 1;
  while (n < info.length && pos + n < text.size()) {
    const auto byte = static_cast<uint8_t>(text[pos + n]);
    const bool ok = n == 1 ? (byte >= info.second_min && byte <= info.second_max)
                           : is_continuation(byte);
    if (!ok) break;
    ++n;
  }
  return n;
}

struct ByteMap {
  std::array<uint32_t, 256> to_codepoint{};
  std::array<std::string, 256> to_utf8;
  std::array<int16_t, 512> from_codepoint{};  // every mapped codepoint is < 0x144
};

ByteMap build_byte_map() {
  ByteMap map;
  map.from_codepoint.fill(-1);
  uint32_t next_extra = 256;
  for (uint32_t byte = 0; byte < 256; ++byte) {
    const bool printable = (byte >= 0x21 && byte <= 0x7E) || (byte >= 0xA1 && byte <= 0xAC) ||
                           (byte >= 0xAE && byte <= 0xFF);
    const uint32_t codepoint = printable ? byte : next_extra++;
    map.to_codepoint[byte] = codepoint;
    append_utf8(map.to_utf8[byte], codepoint);
    map.from_codepoint[codepoint] = static_cast<int16_t>(byte);
  }
  return map;
}

const ByteMap& byte_map() {
  static const ByteMap map = build_byte_map();
  return map;
}

}  // namespace

size_t decode_one(std::string_view text, size_t pos, uint32_t* codepoint) {
  if (pos >= text.size()) return 0;
  size_t full_length = 0;
  const size_t n = valid_prefix_length(text, pos, &full_length);
  if (n == 0 || n != full_length) return 0;
  const auto lead = static_cast<uint8_t>(text[pos]);
  uint32_t value = 0;
  switch (n) {
    case 1: value = lead; break;
    case 2: value = lead & 0x1F; break;
    case 3: value = lead & 0x0F; break;
    default: value = lead & 0x07; break;
  }
  for (size_t i = 1; i < n; ++i) value = (value << 6) | (static_cast<uint8_t>(text[pos + i]) & 0x3F);
  *codepoint = value;
  return n;
}

bool is_valid_utf8(std::string_view text) {
  size_t pos = 0;
  uint32_t codepoint = 0;
  while (pos < text.size()) {
    if (static_cast<uint8_t>(text[pos]) < 0x80) {
      ++pos;
      continue;
    }
    const size_t n = decode_one(text, pos, &codepoint);
    if (n == 0) return false;
    pos += n;
  }
  return true;
}

std::string sanitize_utf8(std::string_view text) {
  if (is_valid_utf8(text)) return std::string(text);
  std::string out;
  out.reserve(text.size() + 8);
  size_t pos = 0;
  while (pos < text.size()) {
    size_t full_length = 0;
    const size_t n = valid_prefix_length(text, pos, &full_length);
    if (n != 0 && n == full_length) {
      out.append(text.substr(pos, n));
      pos += n;
    } else {
      append_utf8(out, kReplacementChar);
      pos += n == 0 ? 1 : n;
    }
  }
  return out;
}

void append_utf8(std::string& out, uint32_t codepoint) {
  if (codepoint < 0x80) {
    out.push_back(static_cast<char>(codepoint));
  } else if (codepoint < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (codepoint >> 6)));
    out.push_back(static_cast<char>(0x80 | (codepoint & 0x3F)));
  } else if (codepoint < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (codepoint >> 12)));
    out.push_back(static_cast<char>(0x80 | ((codepoint >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (codepoint & 0x3F)));
  } else if (codepoint <= 0x10FFFF) {
    out.push_back(static_cast<char>(0xF0 | (codepoint >> 18)));
    out.push_back(static_cast<char>(0x80 | ((codepoint >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((codepoint >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (codepoint & 0x3F)));
  } else {
    append_utf8(out, kReplacementChar);
  }
}

size_t incomplete_suffix_length(std::string_view bytes) {
  // An unfinished sequence is at most 3 bytes long; look for its lead byte.
  const size_t max_back = bytes.size() < 3 ? bytes.size() : 3;
  for (size_t back = 1; back <= max_back; ++back) {
    const size_t pos = bytes.size() - back;
    const auto byte = static_cast<uint8_t>(bytes[pos]);
    if (is_continuation(byte)) continue;
    size_t full_length = 0;
    const size_t n = valid_prefix_length(bytes, pos, &full_length);
    // Held back only if every byte from the lead on fits and more are due.
    return (n == back && full_length > back) ? back : 0;
  }
  return 0;
}

uint32_t byte_to_codepoint(uint8_t byte) { return byte_map().to_codepoint[byte]; }

const std::string& byte_to_utf8(uint8_t byte) { return byte_map().to_utf8[byte]; }

int codepoint_to_byte(uint32_t codepoint) {
  if (codepoint >= byte_map().from_codepoint.size()) return -1;
  return byte_map().from_codepoint[codepoint];
}

}  // namespace tether::tokenizer::unicode
