#include "engine/gguf/gguf_value.h"

#include <cmath>
#include <limits>

#include <fmt/format.h>

namespace tether::gguf {
namespace {

// Strings longer than this are cut in displays (chat templates run to kilobytes).
constexpr size_t kMaxDisplayStringBytes = 160;

void append_quoted(std::string& out, const std::string& text) {
  out += '"';
  const size_t shown = std::min(text.size(), kMaxDisplayStringBytes);
  for (size_t i = 0; i < shown; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out += fmt::format("\\x{:02x}", c);
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
  if (shown < text.size()) out += fmt::format("...({} bytes)", text.size());
}

void append_value(std::string& out, const Value& value, size_t max_items) {
  switch (value.type) {
    case ValueType::kUint8:
    case ValueType::kUint16:
    case ValueType::kUint32:
    case ValueType::kUint64:
      out += fmt::format("{}", std::get<uint64_t>(value.data));
      return;
    case ValueType::kInt8:
    case ValueType::kInt16:
    case ValueType::kInt32:
    case ValueType::kInt64:
      out += fmt::format("{}", std::get<int64_t>(value.data));
      return;
    case ValueType::kFloat32:
      out += fmt::format("{}", static_cast<float>(std::get<double>(value.data)));
      return;
    case ValueType::kFloat64:
      out += fmt::format("{}", std::get<double>(value.data));
      return;
    case ValueType::kBool:
      out += std::get<bool>(value.data) ? "true" : "false";
      return;
    case ValueType::kString:
      append_quoted(out, std::get<std::string>(value.data));
      return;
    case ValueType::kArray: {
      const Array& array = std::get<Array>(value.data);
      const bool elided = array.items.size() > max_items;
      out += '[';
      if (elided) {
        out += fmt::format("{} {}s: ", array.items.size(), value_type_name(array.element_type));
      }
      const size_t shown = elided ? max_items : array.items.size();
      for (size_t item_idx = 0; item_idx < shown; ++item_idx) {
        if (item_idx > 0) out += ", ";
        append_value(out, array.items[item_idx], max_items);
      }
      if (elided) out += shown > 0 ? ", ... " : "... ";
      out += ']';
      return;
    }
  }
}

template <typename T>
Value array_of(ValueType element_type, const std::vector<T>& items, auto make) {
  Array array;
  array.element_type = element_type;
  array.items.reserve(items.size());
  for (const auto& item : items) array.items.push_back(make(item));
  return Value::of_array(std::move(array));
}

}  // namespace

std::string_view value_type_name(ValueType type) {
  switch (type) {
    case ValueType::kUint8: return "uint8";
    case ValueType::kInt8: return "int8";
    case ValueType::kUint16: return "uint16";
    case ValueType::kInt16: return "int16";
    case ValueType::kUint32: return "uint32";
    case ValueType::kInt32: return "int32";
    case ValueType::kFloat32: return "float32";
    case ValueType::kBool: return "bool";
    case ValueType::kString: return "string";
    case ValueType::kArray: return "array";
    case ValueType::kUint64: return "uint64";
    case ValueType::kInt64: return "int64";
    case ValueType::kFloat64: return "float64";
  }
  return "unknown";
}

bool is_valid_value_type(uint32_t type_id) {
  return type_id <= static_cast<uint32_t>(ValueType::kFloat64);
}

Value Value::of_strings(const std::vector<std::string>& items) {
  return array_of(ValueType::kString, items, [](const std::string& s) { return of_string(s); });
}

Value Value::of_f32s(const std::vector<float>& items) {
  return array_of(ValueType::kFloat32, items, [](float f) { return of_f32(f); });
}

Value Value::of_i32s(const std::vector<int32_t>& items) {
  return array_of(ValueType::kInt32, items, [](int32_t i) { return of_i32(i); });
}

std::optional<uint64_t> Value::as_uint() const {
  if (const auto* u = std::get_if<uint64_t>(&data)) return *u;
  if (const auto* i = std::get_if<int64_t>(&data)) {
    if (*i >= 0) return static_cast<uint64_t>(*i);
  }
  return std::nullopt;
}

std::optional<int64_t> Value::as_int() const {
  if (const auto* i = std::get_if<int64_t>(&data)) return *i;
  if (const auto* u = std::get_if<uint64_t>(&data)) {
    if (*u <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return static_cast<int64_t>(*u);
    }
  }
  return std::nullopt;
}

std::optional<double> Value::as_float() const {
  if (const auto* d = std::get_if<double>(&data)) return *d;
  if (const auto* u = std::get_if<uint64_t>(&data)) return static_cast<double>(*u);
  if (const auto* i = std::get_if<int64_t>(&data)) return static_cast<double>(*i);
  return std::nullopt;
}

std::optional<bool> Value::as_bool() const {
  if (const auto* b = std::get_if<bool>(&data)) return *b;
  return std::nullopt;
}

const std::string* Value::as_string() const { return std::get_if<std::string>(&data); }

const Array* Value::as_array() const { return std::get_if<Array>(&data); }

bool operator==(const Array& a, const Array& b) {
  return a.element_type == b.element_type && a.items == b.items;
}

bool operator==(const Value& a, const Value& b) { return a.type == b.type && a.data == b.data; }

std::string Value::to_display_string(size_t max_items) const {
  std::string out;
  append_value(out, *this, max_items);
  return out;
}

}  // namespace tether::gguf
