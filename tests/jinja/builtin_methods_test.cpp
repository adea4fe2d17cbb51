#include "jinja/builtin_methods.h"

#include <gtest/gtest.h>

#include "common/error.h"
#include "render_for_test.h"

namespace tether::jinja {
namespace {

using testing::render;

// Expected texts come from Python's Jinja2 3.1 (Python's str and dict).
TEST(BuiltinMethodsTest, StringMethods) {
  EXPECT_EQ(render("{{ 'xxhixx'.strip('x') }}|{{ ' a b  c '.split() }}|{{ 'a,b,,c'.split(',') }}|"
                   "{{ 'a b c'.split(' ', 1) }}|{{ 'a b'.rsplit(' ', 1) }}"),
            "hi|['a', 'b', 'c']|['a', 'b', '', 'c']|['a', 'b c']|['a', 'b']");
  EXPECT_EQ(render("{{ '  hi  '.lstrip() }}|{{ '  hi  '.rstrip() }}|{{ 'xyhixy'.rstrip('xy') }}|"
                   "{{ '\\n\\t hi \\u3000'.strip() }}"),
            "hi  |  hi|xyhi|hi");
  EXPECT_EQ(render("{{ 'abc'.startswith('a') }} {{ 'abc'.endswith(('x','c')) }} {{ 'abc'.find('c') }} "
                   "{{ 'a\\nb'.splitlines() }} {{ 'x'.upper() }} {{ 'a b'.title() }} {{ 'HeLLo'.lower() }}"),
            "True True 2 ['a', 'b'] X A B hello");
  EXPECT_EQ(render("{{ 'abc'.replace('', '-') }} {{ '{} and {}'.format(1, 'x') }} {{ ', '.join(['a', 'b']) }}"),
            "-a-b-c- 1 and x a, b");
  EXPECT_THROW(render("{{ 'a'.split('') }}"), Error);
}

TEST(BuiltinMethodsTest, DictMethods) {
  EXPECT_EQ(render("{{ {'a':1}.get('a') }} {{ {'a':1}.get('b') }} {{ {'a':1}.get('b', 5) }} "
                   "{{ {'a':1}.keys()|list }} {{ {'a':1}.values()|list }} {{ {'a':1}.items()|list }}"),
            "1 None 5 ['a'] [1] [('a', 1)]");
}

TEST(BuiltinMethodsTest, MutatingMethodsAreAbsentAsInTheSandbox) {
  EXPECT_THROW(render("{% set l = [] %}{{ l.append(1) }}"), Error);
}

}  // namespace
}  // namespace tether::jinja
