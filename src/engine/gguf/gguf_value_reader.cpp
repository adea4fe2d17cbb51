#include "engine/gguf/gguf_value_reader.h"

#include <string>

namespace tether::gguf {
namespace {

Value read_array(ByteReader& reader, std::string_view field, int depth) {
  if (depth >= kMaxArrayDepth) {
    reader.fail(ErrorCode::kCorruptData, reader.position(), field,
                fmt::format("arrays nest deeper than {} levels", kMaxArrayDepth));
  }
  const uint64_t element_type_offset = reader.position();
  const uint32_t element_type_id = reader.read_u32(field);
  if (!is_valid_value_type(element_type_id)) {
    reader.fail(ErrorCode::kCorruptData, element_type_offset, field,
                fmt::format("unknown array element type id {}", element_type_id));
  }
  const auto element_type = static_cast<ValueType>(element_type_id);
  const uint64_t count_offset = reader.position();
  const uint64_t count = reader.read_u64(field);
  reader.require_items(count, min_encoded_size(element_type), field, count_offset);

  Array array;
  array.element_type = element_type;
  array.items.reserve(count);
  const std::string element_field =
      fmt::format("{} (array of {} {}s) element", field, count, value_type_name(element_type));
  for (uint64_t item_idx = 0; item_idx < count; ++item_idx) {
    const uint64_t item_offset = reader.position();
    array.items.push_back(
        read_value(reader, element_type_id, item_offset, element_field, depth + 1));
  }
  return Value::of_array(std::move(array));
}

}  // namespace

uint64_t min_encoded_size(ValueType type) {
  switch (type) {
    case ValueType::kUint8:
    case ValueType::kInt8:
    case ValueType::kBool: return 1;
    case ValueType::kUint16:
    case ValueType::kInt16: return 2;
    case ValueType::kUint32:
    case ValueType::kInt32:
    case ValueType::kFloat32: return 4;
    case ValueType::kUint64:
    case ValueType::kInt64:
    case ValueType::kFloat64:
    case ValueType::kString: return 8;  // a string's length field
    case ValueType::kArray: return 12;  // element type and count
  }
  return 1;
}

Value read_value(ByteReader& reader, uint32_t type_id, uint64_t type_offset,
                 std::string_view field, int depth) {
  if (!is_valid_value_type(type_id)) {
    reader.fail(ErrorCode::kCorruptData, type_offset, field,
                fmt::format("unknown value type id {}", type_id));
  }
  const auto type = static_cast<ValueType>(type_id);
  switch (type) {
    case ValueType::kUint8: return Value::of_uint(type, reader.read_u8(field));
    case ValueType::kUint16: return Value::of_uint(type, reader.read_u16(field));
    case ValueType::kUint32: return Value::of_uint(type, reader.read_u32(field));
    case ValueType::kUint64: return Value::of_uint(type, reader.read_u64(field));
    case ValueType::kInt8:
      return Value::of_int(type, static_cast<int8_t>(reader.read_u8(field)));
    case ValueType::kInt16:
      return Value::of_int(type, static_cast<int16_t>(reader.read_u16(field)));
    case ValueType::kInt32:
      return Value::of_int(type, static_cast<int32_t>(reader.read_u32(field)));
    case ValueType::kInt64:
      return Value::of_int(type, static_cast<int64_t>(reader.read_u64(field)));
    case ValueType::kFloat32: return Value::of_float(type, reader.read_f32(field));
    case ValueType::kFloat64: return Value::of_float(type, reader.read_f64(field));
    case ValueType::kBool: {
      const uint64_t offset = reader.position();
      const uint8_t byte = reader.read_u8(field);
      if (byte > 1) {
        reader.fail(ErrorCode::kCorruptData, offset, field,
                    fmt::format("invalid bool byte {} (must be 0 or 1)", byte));
      }
      return Value::of_bool(byte == 1);
    }
    case ValueType::kString: return Value::of_string(reader.read_string(field));
    case ValueType::kArray: return read_array(reader, field, depth);
  }
  reader.fail(ErrorCode::kInternal, type_offset, field, "unhandled value type");
}

}  // namespace tether::gguf
