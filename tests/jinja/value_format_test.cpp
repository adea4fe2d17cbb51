#include "jinja/value_format.h"

#include <gtest/gtest.h>

#include "common/error.h"

namespace tether::jinja {
namespace {

// Python's repr(float) for the values chat templates meet.
TEST(ValueFormatTest, FloatsPrintAsPythonRepr) {
  EXPECT_EQ(python_float(1.0), "1.0");
  EXPECT_EQ(python_float(0.1), "0.1");
  EXPECT_EQ(python_float(-0.0), "-0.0");
  EXPECT_EQ(python_float(1e16), "1e+16");
  EXPECT_EQ(python_float(1e15), "1000000000000000.0");
  EXPECT_EQ(python_float(0.0001), "0.0001");
  EXPECT_EQ(python_float(0.00001), "1e-05");
  EXPECT_EQ(python_float(1.5e-7), "1.5e-07");
  EXPECT_EQ(python_float(123.456), "123.456");
  EXPECT_EQ(python_float(1e300 * 1e10), "inf");
  EXPECT_EQ(python_float(0.1 + 0.2), "0.30000000000000004");
}

TEST(ValueFormatTest, ReprQuotesAndEscapesAsPython) {
  EXPECT_EQ(python_repr(Value::string("it's"), 1000), "\"it's\"");
  EXPECT_EQ(python_repr(Value::string("both'\""), 1000), "'both\\'\"'");
  EXPECT_EQ(python_repr(Value::string("\n\x01\xc3\xbc\xe2\x80\xa8"), 1000), "'\\n\\x01\xc3\xbc\\u2028'");
  EXPECT_EQ(python_repr(Value::tuple({Value::integer(1)}), 1000), "(1,)");
  EXPECT_EQ(python_str(Value::none(), 1000), "None");
  EXPECT_EQ(python_str(Value::boolean(false), 1000), "False");
  EXPECT_EQ(python_str(Value(), 1000), "");
}

TEST(ValueFormatTest, JsonKeepsKeyOrderAndPythonSeparators) {
  Object o;
  o.set("z", Value::integer(1));
  o.set("a", Value::array({Value::floating(2.0), Value::none(), Value::string("\"\\")}));
  EXPECT_EQ(to_json(Value::object(o), {}, 1000), R"({"z": 1, "a": [2.0, null, "\"\\"]})");
  JsonOptions indented;
  indented.indent = 1;
  EXPECT_EQ(to_json(Value::object(o), indented, 1000),
            "{\n \"z\": 1,\n \"a\": [\n  2.0,\n  null,\n  \"\\\"\\\\\"\n ]\n}");
}

TEST(ValueFormatTest, BudgetsBoundOutputAndDepth) {
  EXPECT_THROW(python_str(Value::string(std::string(10, 'x')), 5), Error);
  EXPECT_THROW(to_json(Value::array({Value::string(std::string(100, 'x'))}), {}, 50), Error);
  Value nested = Value::array();
  for (int i = 0; i < kMaxFormatDepth + 5; ++i) nested = Value::array({nested});
  EXPECT_THROW(python_repr(nested, 1 << 20), Error);
  EXPECT_THROW(to_json(nested, {}, 1 << 20), Error);
}

}  // namespace
}  // namespace tether::jinja
