#include "jinja/utf8.h"

namespace tether::jinja::utf8 {

uint32_t decode(std::string_view s, size_t& pos) {
  const auto lead = static_cast<unsigned char>(s[pos]);
  size_t extra = 0;
  uint32_t cp = 0;
  if (lead < 0x80) {
    ++pos;
    return lead;
  } else if ((lead & 0xe0) == 0xc0) {
    extra = 1;
    cp = lead & 0x1f;
  } else if ((lead & 0xf0) == 0xe0) {
    extra = 2;
    cp = lead & 0x0f;
  } else if ((lead & 0xf8) == 0xf0) {
    extra = 3;
    cp = lead & 0x07;
  } else {
    ++pos;
    return 0xfffd;
  }
  if (extra >= s.size() - pos) {
    ++pos;
    return 0xfffd;
  }
  for (size_t i = 1; i <= extra; ++i) {
    const auto c = static_cast<unsigned char>(s[pos + i]);
    if ((c & 0xc0) != 0x80) {
      ++pos;
      return 0xfffd;
    }
    cp = (cp << 6) | (c & 0x3f);
  }
  pos += extra + 1;
  return cp;
}

void append(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xc0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xe0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  }
}

std::vector<size_t> boundaries(std::string_view s) {
  std::vector<size_t> starts;
  starts.reserve(s.size() + 1);
  size_t pos = 0;
  while (pos < s.size()) {
    starts.push_back(pos);
    decode(s, pos);
  }
  starts.push_back(s.size());
  return starts;
}

size_t length(std::string_view s) {
  size_t count = 0;
  size_t pos = 0;
  while (pos < s.size()) {
    decode(s, pos);
    ++count;
  }
  return count;
}

}  // namespace tether::jinja::utf8
