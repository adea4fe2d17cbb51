#include "jinja/lexer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/error.h"
#include "render_for_test.h"

namespace tether::jinja {
namespace {

using testing::render;

std::vector<TokenKind> kinds(std::string_view source) {
  std::vector<TokenKind> out;
  for (const Token& token : Lexer(source).tokenize()) out.push_back(token.kind);
  return out;
}

TEST(LexerTest, SplitsTextVariablesAndBlocks) {
  EXPECT_THAT(kinds("a{{ x }}b{% if y %}c"),
              ::testing::ElementsAre(TokenKind::kText, TokenKind::kVariableBegin, TokenKind::kName,
                                     TokenKind::kVariableEnd, TokenKind::kText, TokenKind::kBlockBegin,
                                     TokenKind::kName, TokenKind::kName, TokenKind::kBlockEnd, TokenKind::kText,
                                     TokenKind::kEnd));
}

TEST(LexerTest, DecodesLiteralsAndOperators) {
  const std::vector<Token> tokens = Lexer(R"({{ 'a\n\u00e9' 12 1.5e3 ** // == x.0 }})").tokenize();
  ASSERT_GE(tokens.size(), 10u);
  EXPECT_EQ(tokens[1].kind, TokenKind::kString);
  EXPECT_EQ(tokens[1].text, "a\n\xc3\xa9");
  EXPECT_EQ(tokens[2].int_value, 12);
  EXPECT_EQ(tokens[3].kind, TokenKind::kFloat);
  EXPECT_DOUBLE_EQ(tokens[3].float_value, 1500.0);
  EXPECT_EQ(tokens[4].text, "**");
  EXPECT_EQ(tokens[5].text, "//");
  EXPECT_EQ(tokens[6].text, "==");
  EXPECT_EQ(tokens[9].kind, TokenKind::kInteger);  // `x.0` indexes, it is no float
}

TEST(LexerTest, BracesInsideAnExpressionDoNotEndTheTag) {
  EXPECT_EQ(render("{{ {'a': {'b': 1}} }}"), "{'a': {'b': 1}}");
  EXPECT_EQ(render("{{ {'a': 1}}}"), "{'a': 1}");
}

// The expectations below were produced by Python's Jinja2 with Hugging Face's
// settings (trim_blocks, lstrip_blocks).
TEST(LexerTest, TrimBlocksDropsTheNewlineAfterABlockTag) {
  EXPECT_EQ(render("{% if true %}\nx\n{% endif %}\ny"), "x\ny");
  EXPECT_EQ(render("{% for i in [1,2] %}\n  {{ i }}\n{% endfor %}\nend\n"), "  1\n  2\nend");
  EXPECT_EQ(render("{# c #}\nx"), "x");
  EXPECT_EQ(render("{{ 'v' }}\nx"), "v\nx");  // not after variables
}

TEST(LexerTest, LstripBlocksDropsIndentationBeforeABlockTag) {
  EXPECT_EQ(render("  {% if true %}\n    x\n  {% endif %}\ny"), "    x\ny");
  EXPECT_EQ(render("  {{ 'v' }}\n  {% if true %}a{% endif %}  \n  {%+ if true %}b{% endif +%}\nc"),
            "  v\na  \n  b\nc");
  EXPECT_EQ(render("    {% for i in [1,2] %}{{ i }}\n    {% endfor %}\n"), "1\n2\n");
}

TEST(LexerTest, MinusModifiersStripAllAdjacentWhitespace) {
  EXPECT_EQ(render("a {%- if true %} b {% endif -%} c\n d"), "a b c\n d");
  EXPECT_EQ(render("{# comment #}\n  {#- c -#}  x\n{{- ' y ' -}}   z"), "x y z");
  EXPECT_EQ(render("{%- if true -%}\n\n   {{ 'x' }}   \n\n{%- endif -%}"), "x");
  EXPECT_EQ(render("  {%- if true %}  a  {% endif %}  \nb"), "  a    \nb");
}

TEST(LexerTest, RawBlocksKeepTheirText) {
  EXPECT_EQ(render("{% raw %}{{ x }}{% endraw %}"), "{{ x }}");
  EXPECT_EQ(render("a\n  {% raw %}\n{{ x }}\n  {% endraw %}\nb"), "a\n\n{{ x }}\nb");
  EXPECT_EQ(render("a {%- raw -%}  {% x %}  {%- endraw -%} b"), "a{% x %}b");
}

TEST(LexerTest, NormalizesNewlinesAndDropsOneTrailingNewline) {
  EXPECT_EQ(render("a\r\nb\rc\n"), "a\nb\nc");
  EXPECT_EQ(render("a\n\n"), "a\n");
}

TEST(LexerTest, ErrorsNameTheLineAndColumn) {
  try {
    Lexer("ok\n  {{ 'unterminated }}").tokenize();
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_THAT(e.what(), ::testing::HasSubstr("line 2, column 6"));
    EXPECT_THAT(e.what(), ::testing::HasSubstr("unterminated string"));
  }
  EXPECT_THROW(Lexer("{# never closed").tokenize(), Error);
  EXPECT_THROW(Lexer("{{ x ").tokenize(), Error);
  EXPECT_THROW(Lexer("{% if x ").tokenize(), Error);
  EXPECT_THROW(Lexer("{{ x $ y }}").tokenize(), Error);
  EXPECT_THROW(Lexer("{{ 99999999999999999999 }}").tokenize(), Error);
  EXPECT_THROW(Lexer("{{ '\\u12' }}").tokenize(), Error);
}

}  // namespace
}  // namespace tether::jinja
