#include "engine/gguf/gguf_value.h"

#include <gtest/gtest.h>

namespace tether::gguf {
namespace {

TEST(GgufValueTest, IntegerAndFloatViews) {
  EXPECT_EQ(Value::of_u32(5).as_uint(), 5u);
  EXPECT_EQ(Value::of_u32(5).as_int(), 5);
  EXPECT_EQ(Value::of_i32(-5).as_uint(), std::nullopt);
  EXPECT_EQ(Value::of_i32(-5).as_int(), -5);
  EXPECT_EQ(Value::of_u64(~0ull).as_int(), std::nullopt);
  EXPECT_EQ(Value::of_u32(3).as_float(), 3.0);
  EXPECT_EQ(Value::of_f32(0.5f).as_float(), 0.5);
  EXPECT_EQ(Value::of_f32(0.5f).as_uint(), std::nullopt);
  EXPECT_EQ(Value::of_bool(true).as_bool(), true);
  EXPECT_EQ(Value::of_u32(1).as_bool(), std::nullopt);
  EXPECT_EQ(*Value::of_string("s").as_string(), "s");
  EXPECT_EQ(Value::of_u32(1).as_string(), nullptr);
  EXPECT_EQ(Value::of_strings({"a"}).as_array()->element_type, ValueType::kString);
}

TEST(GgufValueTest, EqualityComparesTypeAndPayload) {
  EXPECT_EQ(Value::of_u32(1), Value::of_u32(1));
  EXPECT_NE(Value::of_u32(1), Value::of_u64(1));
  EXPECT_NE(Value::of_strings({"a"}), Value::of_strings({"a", "b"}));
  EXPECT_NE(Value::of_array(Array{ValueType::kString, {}}), Value::of_array(Array{ValueType::kInt32, {}}));
}

TEST(GgufValueTest, DisplayElidesLongArraysAndEscapes) {
  EXPECT_EQ(Value::of_string("a\"b\\\n\x01").to_display_string(), "\"a\\\"b\\\\\\n\\x01\"");
  EXPECT_EQ(Value::of_i32s({1, -2, 3}).to_display_string(), "[1, -2, 3]");
  EXPECT_EQ(Value::of_strings({"!", "\"", "#"}).to_display_string(2), "[3 strings: \"!\", \"\\\"\", ... ]");
  EXPECT_EQ(Value::of_i32s({}).to_display_string(), "[]");
  EXPECT_EQ(Value::of_f32(1e-5f).to_display_string(), "1e-05");
  EXPECT_EQ(Value::of_bool(false).to_display_string(), "false");
  Array nested{ValueType::kArray, {Value::of_i32s({1}), Value::of_i32s({})}};
  EXPECT_EQ(Value::of_array(nested).to_display_string(), "[[1], []]");
  const std::string long_text(1000, 'x');
  const std::string shown = Value::of_string(long_text).to_display_string();
  EXPECT_LT(shown.size(), 200u);
  EXPECT_NE(shown.find("(1000 bytes)"), std::string::npos);
}

TEST(GgufValueTest, ValueTypeIds) {
  EXPECT_TRUE(is_valid_value_type(0));
  EXPECT_TRUE(is_valid_value_type(12));
  EXPECT_FALSE(is_valid_value_type(13));
  EXPECT_EQ(value_type_name(ValueType::kFloat64), "float64");
}

}  // namespace
}  // namespace tether::gguf
