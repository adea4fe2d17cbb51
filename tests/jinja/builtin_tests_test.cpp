#include "jinja/builtin_tests.h"

#include <gtest/gtest.h>

#include "render_for_test.h"

namespace tether::jinja {
namespace {

using testing::render;

// Expected texts come from Python's Jinja2 3.1.
TEST(BuiltinTestsTest, TypeAndValueTests) {
  EXPECT_EQ(render("{{ x is defined }} {{ x is undefined }} {{ none is none }} {{ 'a' is string }} {{ {} is mapping }} "
                   "{{ [] is iterable }} {{ 'a' is iterable }} {{ 1 is number }} {{ true is number }} "
                   "{{ true is integer }} {{ 1.0 is float }} {{ 3 is divisibleby 3 }} {{ 4 is even }} "
                   "{{ false is false }} {{ 0 is false }} {{ 1 is true }}"),
            "False True True True True True True True True False True True True True False False");
  EXPECT_EQ(render("{{ 'a' is lower }} {{ 'A' is upper }} {{ 5 is sameas 5 }} {{ none is sameas none }} "
                   "{{ x is sequence }} {{ 1 is sequence }} {{ 2 is in [1, 2] }} {{ 'a' is eq 'a' }}"),
            "True True True True True False True True");
  EXPECT_EQ(render("{{ m.content is string }} {{ m.content is none }} {{ m.x is none }} {{ m is not mapping }}",
                   R"({"m": {"content": null}})"),
            "False True False False");
}

}  // namespace
}  // namespace tether::jinja
