#include "jinja/text_util.h"

#include <cstdint>

#include "common/error.h"
#include "jinja/utf8.h"

namespace tether::jinja::text {
namespace {

bool is_ascii_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
char to_upper(char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 32) : c; }
char to_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; }

bool in_chars(uint32_t cp, const std::string* chars) {
  if (!chars) return is_python_space(cp);
  size_t pos = 0;
  while (pos < chars->size())
    if (utf8::decode(*chars, pos) == cp) return true;
  return false;
}

}  // namespace

bool is_python_space(uint32_t cp) {
  return (cp >= 0x09 && cp <= 0x0d) || (cp >= 0x1c && cp <= 0x20) || cp == 0x85 || cp == 0xa0 ||
         cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 || cp == 0x2029 ||
         cp == 0x202f || cp == 0x205f || cp == 0x3000;
}

std::string strip(std::string_view s, const std::string* chars, bool left, bool right) {
  const std::vector<size_t> starts = utf8::boundaries(s);
  size_t first = 0;
  size_t last = starts.size() - 1;  // code point count
  auto cp_at = [&](size_t i) {
    size_t pos = starts[i];
    return utf8::decode(s, pos);
  };
  if (left)
    while (first < last && in_chars(cp_at(first), chars)) ++first;
  if (right)
    while (last > first && in_chars(cp_at(last - 1), chars)) --last;
  return std::string(s.substr(starts[first], starts[last] - starts[first]));
}

std::vector<std::string> split(std::string_view s, const std::string* separator, int64_t max_split) {
  std::vector<std::string> parts;
  if (separator) {
    if (separator->empty()) throw_error(ErrorCode::kInvalidArgument, "empty separator");
    size_t start = 0;
    while (max_split < 0 || static_cast<int64_t>(parts.size()) < max_split) {
      const size_t found = s.find(*separator, start);
      if (found == std::string_view::npos) break;
      parts.emplace_back(s.substr(start, found - start));
      start = found + separator->size();
    }
    parts.emplace_back(s.substr(start));
    return parts;
  }
  // Runs of whitespace separate; leading and trailing whitespace is ignored.
  size_t pos = 0;
  while (pos < s.size()) {
    size_t next = pos;
    while (pos < s.size()) {
      next = pos;
      if (!is_python_space(utf8::decode(s, next))) break;
      pos = next;
    }
    if (pos >= s.size()) break;
    if (max_split >= 0 && static_cast<int64_t>(parts.size()) == max_split) {
      std::string rest(s.substr(pos));
      parts.push_back(strip(rest, nullptr, false, true));
      return parts;
    }
    const size_t begin = pos;
    while (pos < s.size()) {
      next = pos;
      if (is_python_space(utf8::decode(s, next))) break;
      pos = next;
    }
    parts.emplace_back(s.substr(begin, pos - begin));
  }
  return parts;
}

std::vector<std::string> rsplit(std::string_view s, const std::string* separator, int64_t max_split) {
  if (max_split < 0 || !separator) return split(s, separator, max_split);
  if (separator->empty()) throw_error(ErrorCode::kInvalidArgument, "empty separator");
  std::vector<std::string> parts;
  size_t end = s.size();
  while (static_cast<int64_t>(parts.size()) < max_split) {
    if (end < separator->size()) break;
    const size_t found = s.rfind(*separator, end - separator->size());
    if (found == std::string_view::npos) break;
    parts.emplace(parts.begin(), s.substr(found + separator->size(), end - found - separator->size()));
    end = found;
  }
  parts.emplace(parts.begin(), s.substr(0, end));
  return parts;
}

std::vector<std::string> splitlines(std::string_view s, bool keep_ends) {
  std::vector<std::string> lines;
  size_t start = 0;
  size_t pos = 0;
  while (pos < s.size()) {
    const size_t at = pos;
    const uint32_t cp = utf8::decode(s, pos);
    const bool is_break = cp == '\n' || cp == '\r' || cp == 0x0b || cp == 0x0c || cp == 0x1c ||
                          cp == 0x1d || cp == 0x1e || cp == 0x85 || cp == 0x2028 || cp == 0x2029;
    if (!is_break) continue;
    if (cp == '\r' && pos < s.size() && s[pos] == '\n') ++pos;
    lines.emplace_back(s.substr(start, (keep_ends ? pos : at) - start));
    start = pos;
  }
  if (start < s.size()) lines.emplace_back(s.substr(start));
  return lines;
}

std::string replace(std::string_view s, std::string_view from, std::string_view to, int64_t count,
                    size_t max_bytes) {
  std::string out;
  auto check = [&]() {
    if (out.size() > max_bytes) throw_error(ErrorCode::kInvalidArgument, "value exceeds {} bytes", max_bytes);
  };
  if (from.empty()) {
    // Python inserts `to` between code points and at both ends.
    const std::vector<size_t> starts = utf8::boundaries(s);
    int64_t done = 0;
    for (size_t i = 0; i + 1 < starts.size(); ++i) {
      if (count < 0 || done < count) {
        out += to;
        ++done;
      }
      out.append(s.substr(starts[i], starts[i + 1] - starts[i]));
      check();
    }
    if (count < 0 || done < count) out += to;
    check();
    return out;
  }
  size_t start = 0;
  int64_t done = 0;
  while (count < 0 || done < count) {
    const size_t found = s.find(from, start);
    if (found == std::string_view::npos) break;
    out.append(s.substr(start, found - start));
    out.append(to);
    check();
    start = found + from.size();
    ++done;
  }
  out.append(s.substr(start));
  check();
  return out;
}

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = to_upper(c);
  return out;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = to_lower(c);
  return out;
}

std::string capitalize(std::string_view s) {
  std::string out = lower(s);
  if (!out.empty()) out[0] = to_upper(out[0]);
  return out;
}

std::string title(std::string_view s) {
  std::string out(s);
  bool previous_cased = false;
  for (char& c : out) {
    if (is_ascii_letter(c)) {
      c = previous_cased ? to_lower(c) : to_upper(c);
      previous_cased = true;
    } else {
      previous_cased = static_cast<unsigned char>(c) >= 0x80 && previous_cased;
    }
  }
  return out;
}

}  // namespace tether::jinja::text
