#include "jinja/json_value.h"

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "common/error.h"
#include "jinja/value_format.h"

namespace tether::jinja {
namespace {

TEST(JsonValueTest, ConvertsEveryKindKeepingOrderAndNumberTypes) {
  const Value v = from_json(boost::json::parse(
      R"({"b": [1, 2.0, -3, 18446744073709551615, true, null, "s"], "a": {"y": 1, "x": {}}})"));
  ASSERT_TRUE(v.is_object());
  EXPECT_EQ(v.as_object().entries()[0].first, "b");
  const Array& items = v.as_object().find("b")->as_array();
  EXPECT_TRUE(items[0].is_int());
  EXPECT_TRUE(items[1].is_float());
  EXPECT_EQ(items[2].as_int(), -3);
  EXPECT_TRUE(items[3].is_float());  // past int64
  EXPECT_TRUE(items[4].is_bool());
  EXPECT_TRUE(items[5].is_none());
  EXPECT_EQ(items[6].as_string(), "s");
  EXPECT_EQ(python_repr(v, 1000),
            "{'b': [1, 2.0, -3, 1.8446744073709552e+19, True, None, 's'], 'a': {'y': 1, 'x': {}}}");
}

TEST(JsonValueTest, RefusesHostileNesting) {
  boost::json::value deep = boost::json::array();
  for (int i = 0; i < kMaxJsonDepth + 2; ++i) deep = boost::json::array{deep};
  EXPECT_THROW(from_json(deep), Error);
}

}  // namespace
}  // namespace tether::jinja
