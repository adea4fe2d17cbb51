#include "jinja/value_format.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

#include "common/error.h"
#include "jinja/utf8.h"

namespace tether::jinja {
namespace {

void check_budget(const std::string& out, size_t max_bytes, int depth) {
  if (out.size() > max_bytes)
    throw_error(ErrorCode::kInvalidArgument, "template output exceeds {} bytes", max_bytes);
  if (depth > kMaxFormatDepth)
    throw_error(ErrorCode::kInvalidArgument, "value nests deeper than {} levels", kMaxFormatDepth);
}

// Code points Python's repr escapes (not str.isprintable()): controls,
// separators other than space, format characters, surrogates, private use.
// An approximation of the Unicode tables for the ranges text actually hits.
bool python_unprintable(uint32_t cp) {
  return (cp >= 0x80 && cp <= 0xa0) || cp == 0xad || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200f) ||
         (cp >= 0x2028 && cp <= 0x202f) || (cp >= 0x205f && cp <= 0x206f) || cp == 0x3000 ||
         (cp >= 0xd800 && cp <= 0xf8ff) || cp == 0xfeff || (cp >= 0xfff0 && cp <= 0xfffb) ||
         cp == 0xfffe || cp == 0xffff || cp >= 0xf0000;
}

void append_repr_string(std::string& out, const std::string& s) {
  const bool has_single = s.find('\'') != std::string::npos;
  const bool has_double = s.find('"') != std::string::npos;
  const char quote = has_single && !has_double ? '"' : '\'';
  out += quote;
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '\\') {
      out += "\\\\";
    } else if (c == static_cast<unsigned char>(quote)) {
      out += '\\';
      out += quote;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else if (c >= 0x80) {
      const size_t start = i;
      const uint32_t cp = utf8::decode(s, i);
      --i;  // the loop's ++i moves past the code point
      if (python_unprintable(cp)) {
        char buf[16];
        if (cp <= 0xff) std::snprintf(buf, sizeof buf, "\\x%02x", cp);
        else if (cp <= 0xffff) std::snprintf(buf, sizeof buf, "\\u%04x", cp);
        else std::snprintf(buf, sizeof buf, "\\U%08x", cp);
        out += buf;
      } else {
        out.append(s, start, i + 1 - start);
      }
    } else {
      out += static_cast<char>(c);
    }
  }
  out += quote;
}

void append_repr(std::string& out, const Value& value, size_t max_bytes, int depth);

void append_str(std::string& out, const Value& value, size_t max_bytes, int depth) {
  switch (value.kind()) {
    case Value::Kind::kUndefined: return;
    case Value::Kind::kString: out += value.as_string(); break;
    default: append_repr(out, value, max_bytes, depth); break;
  }
  check_budget(out, max_bytes, depth);
}

void append_repr(std::string& out, const Value& value, size_t max_bytes, int depth) {
  check_budget(out, max_bytes, depth);
  switch (value.kind()) {
    case Value::Kind::kUndefined: out += "Undefined"; return;
    case Value::Kind::kNone: out += "None"; return;
    case Value::Kind::kBool: out += value.as_bool() ? "True" : "False"; return;
    case Value::Kind::kInt: out += std::to_string(value.as_int()); return;
    case Value::Kind::kFloat: out += python_float(value.as_double()); return;
    case Value::Kind::kString: append_repr_string(out, value.as_string()); return;
    case Value::Kind::kArray: {
      const Array& items = value.as_array();
      out += value.is_tuple() ? '(' : '[';
      for (size_t i = 0; i < items.size(); ++i) {
        if (i) out += ", ";
        append_repr(out, items[i], max_bytes, depth + 1);
      }
      if (value.is_tuple() && items.size() == 1) out += ',';
      out += value.is_tuple() ? ')' : ']';
      return;
    }
    case Value::Kind::kObject: {
      if (value.is_namespace()) out += "<Namespace ";
      out += '{';
      bool first = true;
      for (const auto& [key, item] : value.as_object().entries()) {
        if (!first) out += ", ";
        first = false;
        append_repr_string(out, key);
        out += ": ";
        append_repr(out, item, max_bytes, depth + 1);
      }
      out += '}';
      if (value.is_namespace()) out += '>';
      return;
    }
    case Value::Kind::kFunction: out += "<function " + value.as_function().name + ">"; return;
  }
}

void append_json_string(std::string& out, const std::string& s, bool ensure_ascii) {
  out += '"';
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    switch (c) {
      case '"': out += "\\\""; ++i; continue;
      case '\\': out += "\\\\"; ++i; continue;
      case '\n': out += "\\n"; ++i; continue;
      case '\r': out += "\\r"; ++i; continue;
      case '\t': out += "\\t"; ++i; continue;
      case '\b': out += "\\b"; ++i; continue;
      case '\f': out += "\\f"; ++i; continue;
      default: break;
    }
    char buf[16];
    if (c < 0x20) {
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
      ++i;
    } else if (c < 0x80 || !ensure_ascii) {
      out += static_cast<char>(c);
      ++i;
    } else {
      const uint32_t cp = utf8::decode(s, i);
      if (cp >= 0x10000) {
        const uint32_t v = cp - 0x10000;
        std::snprintf(buf, sizeof buf, "\\u%04x\\u%04x", 0xd800 + (v >> 10), 0xdc00 + (v & 0x3ff));
      } else {
        std::snprintf(buf, sizeof buf, "\\u%04x", cp);
      }
      out += buf;
    }
  }
  out += '"';
}

void append_json(std::string& out, const Value& value, const JsonOptions& options, size_t max_bytes,
                 int depth) {
  check_budget(out, max_bytes, depth);
  const std::string item_sep =
      !options.item_separator.empty() ? options.item_separator : (options.indent >= 0 ? "," : ", ");
  const std::string key_sep = !options.key_separator.empty() ? options.key_separator : ": ";
  auto newline = [&](int level) {
    if (options.indent < 0) return;
    out += '\n';
    out.append(static_cast<size_t>(options.indent) * static_cast<size_t>(level), ' ');
  };
  switch (value.kind()) {
    case Value::Kind::kNone: out += "null"; return;
    case Value::Kind::kBool: out += value.as_bool() ? "true" : "false"; return;
    case Value::Kind::kInt: out += std::to_string(value.as_int()); return;
    case Value::Kind::kFloat: {
      const double d = value.as_double();
      if (std::isnan(d)) out += "NaN";
      else if (std::isinf(d)) out += d > 0 ? "Infinity" : "-Infinity";
      else out += python_float(d);
      return;
    }
    case Value::Kind::kString: append_json_string(out, value.as_string(), options.ensure_ascii); return;
    case Value::Kind::kArray: {
      const Array& items = value.as_array();
      if (items.empty()) {
        out += "[]";
        return;
      }
      out += '[';
      for (size_t i = 0; i < items.size(); ++i) {
        if (i) out += item_sep;
        newline(depth + 1);
        append_json(out, items[i], options, max_bytes, depth + 1);
      }
      newline(depth);
      out += ']';
      return;
    }
    case Value::Kind::kObject: {
      std::vector<const std::pair<std::string, Value>*> entries;
      for (const auto& entry : value.as_object().entries()) entries.push_back(&entry);
      if (entries.empty()) {
        out += "{}";
        return;
      }
      if (options.sort_keys)
        std::stable_sort(entries.begin(), entries.end(),
                         [](const auto* a, const auto* b) { return a->first < b->first; });
      out += '{';
      for (size_t i = 0; i < entries.size(); ++i) {
        if (i) out += item_sep;
        newline(depth + 1);
        append_json_string(out, entries[i]->first, options.ensure_ascii);
        out += key_sep;
        append_json(out, entries[i]->second, options, max_bytes, depth + 1);
      }
      newline(depth);
      out += '}';
      return;
    }
    case Value::Kind::kUndefined:
    case Value::Kind::kFunction:
      throw_error(ErrorCode::kInvalidArgument, "Object of type {} is not JSON serializable",
                  value.type_name());
  }
}

}  // namespace

std::string python_str(const Value& value, size_t max_bytes) {
  std::string out;
  append_str(out, value, max_bytes, 0);
  return out;
}

std::string python_repr(const Value& value, size_t max_bytes) {
  std::string out;
  append_repr(out, value, max_bytes, 0);
  check_budget(out, max_bytes, 0);
  return out;
}

std::string python_float(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  char buf[64];
  // Shortest round-trip digits in scientific form, then laid out as Python's
  // repr does: positional for exponents in [-4, 16), scientific otherwise.
  auto result = std::to_chars(buf, buf + sizeof buf, value, std::chars_format::scientific);
  std::string sci(buf, result.ptr);
  bool negative = false;
  if (!sci.empty() && sci[0] == '-') {
    negative = true;
    sci.erase(0, 1);
  }
  const size_t e_pos = sci.find('e');
  std::string mantissa = sci.substr(0, e_pos);
  const int exponent = std::stoi(sci.substr(e_pos + 1));
  std::string digits;
  for (char c : mantissa)
    if (c != '.') digits += c;
  std::string out = negative ? "-" : "";
  if (exponent >= -4 && exponent < 16) {
    if (exponent < 0) {
      out += "0.";
      out.append(static_cast<size_t>(-exponent - 1), '0');
      out += digits;
    } else {
      const size_t int_digits = static_cast<size_t>(exponent) + 1;
      if (digits.size() <= int_digits) {
        out += digits;
        out.append(int_digits - digits.size(), '0');
        out += ".0";
      } else {
        out += digits.substr(0, int_digits);
        out += '.';
        out += digits.substr(int_digits);
      }
    }
    return out;
  }
  out += digits.substr(0, 1);
  if (digits.size() > 1) {
    out += '.';
    out += digits.substr(1);
  }
  char exp_buf[16];
  std::snprintf(exp_buf, sizeof exp_buf, "e%c%02d", exponent < 0 ? '-' : '+', std::abs(exponent));
  out += exp_buf;
  return out;
}

std::string to_json(const Value& value, const JsonOptions& options, size_t max_bytes) {
  std::string out;
  append_json(out, value, options, max_bytes, 0);
  check_budget(out, max_bytes, 0);
  return out;
}

}  // namespace tether::jinja
