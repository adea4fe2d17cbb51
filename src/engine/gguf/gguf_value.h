#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace tether::gguf {

// Metadata value types, numbered as in the GGUF format.
enum class ValueType : uint32_t {
  kUint8 = 0,
  kInt8 = 1,
  kUint16 = 2,
  kInt16 = 3,
  kUint32 = 4,
  kInt32 = 5,
  kFloat32 = 6,
  kBool = 7,
  kString = 8,
  kArray = 9,
  kUint64 = 10,
  kInt64 = 11,
  kFloat64 = 12,
};

std::string_view value_type_name(ValueType type);
bool is_valid_value_type(uint32_t type_id);

struct Value;

// An array's elements all have `element_type` (arrays may nest).
struct Array {
  ValueType element_type = ValueType::kUint8;
  std::vector<Value> items;
};

// One metadata value. Unsigned integers are held widened in uint64_t, signed
// ones in int64_t, floats in double; `type` keeps the exact on-disk type.
struct Value {
  ValueType type = ValueType::kUint8;
  std::variant<uint64_t, int64_t, double, bool, std::string, Array> data;

  static Value of_uint(ValueType type, uint64_t v) { return {type, v}; }
  static Value of_int(ValueType type, int64_t v) { return {type, v}; }
  static Value of_float(ValueType type, double v) { return {type, v}; }
  static Value of_u32(uint32_t v) { return {ValueType::kUint32, uint64_t{v}}; }
  static Value of_i32(int32_t v) { return {ValueType::kInt32, int64_t{v}}; }
  static Value of_u64(uint64_t v) { return {ValueType::kUint64, v}; }
  static Value of_f32(float v) { return {ValueType::kFloat32, double{v}}; }
  static Value of_bool(bool v) { return {ValueType::kBool, v}; }
  static Value of_string(std::string v) { return {ValueType::kString, std::move(v)}; }
  static Value of_array(Array v) { return {ValueType::kArray, std::move(v)}; }
  static Value of_strings(const std::vector<std::string>& items);
  static Value of_f32s(const std::vector<float>& items);
  static Value of_i32s(const std::vector<int32_t>& items);

  // Integer view: any integer type whose value fits (negative → nullopt for as_uint).
  std::optional<uint64_t> as_uint() const;
  std::optional<int64_t> as_int() const;
  // Float view: float32/float64, or any integer type.
  std::optional<double> as_float() const;
  std::optional<bool> as_bool() const;
  const std::string* as_string() const;
  const Array* as_array() const;

  // Short human-readable rendering (long arrays are elided).
  std::string to_display_string(size_t max_items = 8) const;
};

// Same on-disk type and same payload, element by element for arrays.
bool operator==(const Array& a, const Array& b);
bool operator==(const Value& a, const Value& b);

}  // namespace tether::gguf
