#include "jinja/parser.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/error.h"
#include "jinja/template.h"
#include "render_for_test.h"

namespace tether::jinja {
namespace {

using ::testing::HasSubstr;
using testing::render;

std::string parse_error(std::string_view source) {
  try {
    Template t(source);
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    return e.what();
  }
  ADD_FAILURE() << "parsed: " << source;
  return {};
}

TEST(ParserTest, SyntaxErrorsSayWhatAndWhere) {
  EXPECT_THAT(parse_error("{% if x %}\nabc"), HasSubstr("expected 'elif' or 'else' or 'endif'"));
  EXPECT_THAT(parse_error("line\n{{ 1 + }}"), HasSubstr("line 2, column 8"));
  EXPECT_THAT(parse_error("{% endfor %}"), HasSubstr("unknown tag 'endfor'"));
  EXPECT_THAT(parse_error("{% for %}{% endfor %}"), HasSubstr("expected a name"));
  EXPECT_THAT(parse_error("{{ x | nosuchfilter }}"), HasSubstr("no filter named 'nosuchfilter'"));
  EXPECT_THAT(parse_error("{{ x is nosuchtest }}"), HasSubstr("no test named 'nosuchtest'"));
  EXPECT_THAT(parse_error("{% frobnicate %}"), HasSubstr("unknown tag 'frobnicate'"));
  EXPECT_THAT(parse_error("{% macro m(a=1, b) %}{% endmacro %}"), HasSubstr("without a default"));
  EXPECT_THAT(parse_error("{{ f(a=1, 2) }}"), HasSubstr("positional argument follows"));
  EXPECT_THAT(parse_error("{{ [1, 2) }}"), HasSubstr("expected ']'"));
  // An open bracket keeps `}}` inside the expression, as in Jinja2.
  EXPECT_THAT(parse_error("{{ [1, 2 }}"), HasSubstr("unclosed variable tag"));
}

TEST(ParserTest, DeepNestingIsRefusedNotOverflowed) {
  EXPECT_THAT(parse_error("{{ " + std::string(100000, '(') + "1" + std::string(100000, ')') + " }}"),
              HasSubstr("nests too deeply"));
  std::string ifs;
  for (int i = 0; i < 5000; ++i) ifs += "{% if true %}";
  EXPECT_THAT(parse_error(ifs), HasSubstr("nests too deeply"));
  EXPECT_THAT(parse_error("{{ " + std::string(50000, '-') + "1 }}"), HasSubstr("nests too deeply"));
  EXPECT_THAT(parse_error("{{ " + std::string(50000, '[') + std::string(50000, ']') + " }}"), HasSubstr("nests too deeply"));
}

TEST(ParserTest, PrecedenceFollowsJinja2) {
  // Filters bind tighter than arithmetic and unary minus; `~` tighter than `+`;
  // `is` tests apply to the closest operand.
  EXPECT_EQ(render("{{ -3|abs }} {{ 'ab' ~ 'c'|upper }} {{ [1,2]|length > 1 }} {{ 2 ~ 3 * 2 }}"), "3 abC True 26");
  EXPECT_THROW(render("{{ 1 + 2 ~ 3 }}"), Error);  // 1 + '23' 
  EXPECT_EQ(render("{{ not 1 == 2 }} {{ 2 * 3 ** 2 }} {{ (1, 2) }} {{ () }} {{ [1, 2,] }} {{ \"a\" \"b\" }}"),
            "True 18 (1, 2) () [1, 2] ab");
  EXPECT_EQ(render("{{ 1 is divisibleby(2) }} {{ 4 is divisibleby 2 }} {{ 'a' is defined and 'b' }}"),
            "False True b");
}

TEST(ParserTest, GenerationBlocksRenderTheirBody) {
  EXPECT_EQ(render("a{% generation %}b{% endgeneration %}c"), "abc");
  EXPECT_EQ(render("{% filter upper %}hello{% endfilter %}"), "HELLO");
}

}  // namespace
}  // namespace tether::jinja
