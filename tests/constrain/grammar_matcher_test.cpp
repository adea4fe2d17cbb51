#include "constrain/grammar_matcher.h"

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include "common/error.h"
#include "constrain/grammar.h"
#include "constrain/grammar_program.h"
#include "constrain/vocabulary.h"

namespace tether::constrain {
namespace {

// Token 0 is the end token; 1 has no text (a control token).
std::shared_ptr<const Vocabulary> small_vocabulary() {
  std::vector<std::string> pieces = {"</s>", "", "a", "b", "ab", "abc", "{", "}", "\"", "\"a", "a\"", ",",
                                     ":", "1", "12", "-", "x", " ", "\n", "\\", "n", "u", "\xC3", "\xA9",
                                     "\xC3\xA9", "\"}", "true", "tr", "ue", "null", "[", "]", "0", "d8"};
  return std::make_shared<const Vocabulary>(std::move(pieces), std::vector<TokenId>{0});
}

TokenId id_of(const Vocabulary& vocabulary, const std::string& piece) {
  for (TokenId id = 0; id < vocabulary.n_tokens(); ++id) {
    if (vocabulary.piece(id) == piece) return id;
  }
  ADD_FAILURE() << "no token " << piece;
  return -1;
}

std::vector<std::string> allowed(GrammarMatcher& matcher) {
  std::vector<uint64_t> mask;
  matcher.fill_mask(mask);
  std::vector<std::string> out;
  const Vocabulary& vocabulary = matcher.vocabulary();
  for (TokenId id = 0; id < vocabulary.n_tokens(); ++id) {
    if ((mask[id / 64] >> (id % 64)) & 1) out.push_back(vocabulary.is_end(id) ? "<end>" : vocabulary.piece(id));
  }
  return out;
}

GrammarMatcher matcher_for(const Grammar& grammar) {
  return GrammarMatcher(std::make_shared<const GrammarProgram>(grammar), small_vocabulary());
}

TEST(GrammarMatcherTest, LiteralAllowsItsPrefixTokensAndEndOnlyWhenComplete) {
  GrammarMatcher matcher = matcher_for(literal("abc"));
  EXPECT_EQ(allowed(matcher), (std::vector<std::string>{"a", "ab", "abc"}));
  EXPECT_FALSE(matcher.complete());
  ASSERT_TRUE(matcher.accept_token(id_of(matcher.vocabulary(), "ab")));
  EXPECT_FALSE(matcher.accept_token(id_of(matcher.vocabulary(), "b")));  // state unchanged
  EXPECT_FALSE(matcher.accept_token(0));                                 // not complete: no end
  ASSERT_TRUE(matcher.accept_bytes("c"));
  EXPECT_TRUE(matcher.complete());
  EXPECT_FALSE(matcher.can_continue());
  EXPECT_EQ(allowed(matcher), (std::vector<std::string>{"<end>"}));
}

TEST(GrammarMatcherTest, ChoiceRepeatAndSequence) {
  const Grammar g = sequence({repeat(choice({literal("a"), literal("b")}), 1, 3), literal("x")});
  GrammarMatcher matcher = matcher_for(g);
  EXPECT_EQ(allowed(matcher), (std::vector<std::string>{"a", "b", "ab"}));
  ASSERT_TRUE(matcher.accept_bytes("ab"));
  EXPECT_EQ(allowed(matcher), (std::vector<std::string>{"a", "b", "x"}));
  ASSERT_TRUE(matcher.accept_bytes("a"));
  EXPECT_EQ(allowed(matcher), (std::vector<std::string>{"x"}));  // three already
  EXPECT_FALSE(matcher.accept_bytes("a"));
  ASSERT_TRUE(matcher.accept_bytes("x"));
  EXPECT_TRUE(matcher.complete());
}

TEST(GrammarMatcherTest, NullableGrammarIsCompleteAtOnce) {
  GrammarMatcher matcher = matcher_for(optional(literal("a")));
  EXPECT_TRUE(matcher.complete());
  EXPECT_TRUE(matcher.can_continue());
  EXPECT_EQ(allowed(matcher), (std::vector<std::string>{"<end>", "a"}));
}

TEST(GrammarMatcherTest, JsonStringEscapesAndUtf8) {
  GrammarMatcher matcher = matcher_for(json_string());
  EXPECT_EQ(allowed(matcher), (std::vector<std::string>{"\"", "\"a", "\"}"}));  // `}` is content
  ASSERT_TRUE(matcher.accept_bytes("\""));
  // Inside: plain tokens, the lone lead byte (a partial character), a
  // closing quote, a backslash; never a control byte or a stray continuation.
  const std::vector<std::string> inside = allowed(matcher);
  for (const char* piece : {"a", "b", "ab", "abc", "a\"", "\xC3", "\xC3\xA9", "\"", "\\", " ", "d8"}) {
    EXPECT_NE(std::find(inside.begin(), inside.end(), piece), inside.end()) << piece;
  }
  for (const char* piece : {"\n", "\xA9", "<end>", "\"}"}) {  // nothing follows the string
    EXPECT_EQ(std::find(inside.begin(), inside.end(), piece), inside.end()) << piece;
  }
  ASSERT_TRUE(matcher.accept_bytes("\xC3"));
  EXPECT_EQ(allowed(matcher), (std::vector<std::string>{"\xA9"}));
  ASSERT_TRUE(matcher.accept_bytes("\xA9\\"));
  // Escapes: \b \" \\ \n \t \u, possibly followed by more content.
  EXPECT_EQ(allowed(matcher),
            (std::vector<std::string>{"b", "\"", "\"a", "\\", "n", "u", "\"}", "true", "tr", "ue", "null"}));
  ASSERT_TRUE(matcher.accept_bytes("u"));
  EXPECT_EQ(allowed(matcher), (std::vector<std::string>{"a", "b", "ab", "abc", "1", "12", "0"}));
  EXPECT_FALSE(matcher.accept_bytes("d8"));  // a surrogate half
  ASSERT_TRUE(matcher.accept_bytes("00e9\""));
  EXPECT_TRUE(matcher.complete());
}

TEST(GrammarMatcherTest, JsonStringLengthBounds) {
  GrammarMatcher matcher = matcher_for(json_string(1, 2));
  ASSERT_TRUE(matcher.accept_bytes("\""));
  EXPECT_FALSE(matcher.accept_bytes("\""));  // too short
  ASSERT_TRUE(matcher.accept_bytes("\xC3\xA9"));
  ASSERT_TRUE(matcher.accept_bytes("a"));
  const std::vector<std::string> at_max = allowed(matcher);
  EXPECT_EQ(at_max, (std::vector<std::string>{"\""}));
  EXPECT_FALSE(matcher.accept_bytes("b"));
}

TEST(GrammarMatcherTest, ControlTokensAreNeverAllowed) {
  GrammarMatcher matcher = matcher_for(json_value());
  const std::vector<std::string> first = allowed(matcher);
  EXPECT_EQ(std::find(first.begin(), first.end(), ""), first.end());
  EXPECT_FALSE(matcher.accept_token(1));
}

TEST(GrammarMatcherTest, RejectsARepeatOfTheEmptyString) {
  EXPECT_THROW(repeat(optional(literal("a")), 0, kUnbounded), Error);
  EXPECT_THROW(choice({}), Error);
  EXPECT_THROW(repeat(literal("a"), 3, 2), Error);
}

TEST(GrammarMatcherTest, HandBuiltNodesAreCheckedWhenCompiled) {
  auto empty_repeat = std::make_shared<GrammarNode>();
  empty_repeat->kind = GrammarNode::Kind::kRepeat;
  empty_repeat->children = {literal("").node()};
  empty_repeat->min = 0;
  empty_repeat->max = kUnbounded;
  empty_repeat->nullable = false;  // a lie the compiler must not believe
  EXPECT_THROW(GrammarProgram{sequence({literal("a"), Grammar(empty_repeat)})}, Error);
  auto nothing = std::make_shared<GrammarNode>();
  nothing->kind = GrammarNode::Kind::kChoice;
  nothing->nullable = false;
  EXPECT_THROW(GrammarProgram{sequence({literal("a"), Grammar(nothing)})}, Error);
  EXPECT_THROW(GrammarProgram{never()}, Error);
}

std::vector<std::string> allowed_within(GrammarMatcher& matcher, int32_t remaining_tokens) {
  std::vector<uint64_t> mask;
  matcher.fill_mask(mask, remaining_tokens);
  std::vector<std::string> out;
  const Vocabulary& vocabulary = matcher.vocabulary();
  for (TokenId id = 0; id < vocabulary.n_tokens(); ++id) {
    if ((mask[id / 64] >> (id % 64)) & 1) out.push_back(vocabulary.is_end(id) ? "<end>" : vocabulary.piece(id));
  }
  return out;
}

TEST(GrammarMatcherDistanceTest, LiteralsCountTheirRemainingBytes) {
  GrammarMatcher matcher = matcher_for(literal("abc"));
  EXPECT_EQ(matcher.distance(), 3);
  ASSERT_TRUE(matcher.accept_bytes("a"));
  EXPECT_EQ(matcher.distance(), 2);
  ASSERT_TRUE(matcher.accept_bytes("bc"));
  EXPECT_EQ(matcher.distance(), 0);
}

TEST(GrammarMatcherDistanceTest, ChoicesTakeTheShortestAlternative) {
  GrammarMatcher matcher = matcher_for(sequence({choice({literal("a long text"), literal("ab")}), literal("}")}));
  EXPECT_EQ(matcher.distance(), 3);
  ASSERT_TRUE(matcher.accept_bytes("a "));
  EXPECT_EQ(matcher.distance(), 10);  // only the long one is left
}

TEST(GrammarMatcherDistanceTest, StringsCountMinLengthQuotesAndTheCharacterUnderWay) {
  GrammarMatcher matcher = matcher_for(sequence({literal("{"), json_string(2, kUnbounded), literal("}")}));
  EXPECT_EQ(matcher.distance(), 6);  // { " x x " }
  ASSERT_TRUE(matcher.accept_bytes("{\""));
  EXPECT_EQ(matcher.distance(), 4);
  ASSERT_TRUE(matcher.accept_bytes("a"));
  EXPECT_EQ(matcher.distance(), 3);
  ASSERT_TRUE(matcher.accept_bytes("bcd"));  // past minLength: only the quote and brace
  EXPECT_EQ(matcher.distance(), 2);
  ASSERT_TRUE(matcher.accept_bytes("\\"));  // an escape to finish
  EXPECT_EQ(matcher.distance(), 3);
  ASSERT_TRUE(matcher.accept_bytes("u0"));  // three hex digits to go
  EXPECT_EQ(matcher.distance(), 5);
  ASSERT_TRUE(matcher.accept_bytes("0e9\xE2"));  // two continuation bytes to go
  EXPECT_EQ(matcher.distance(), 4);
  ASSERT_TRUE(matcher.accept_bytes("\x82\xAC\"}"));
  EXPECT_EQ(matcher.distance(), 0);
}

TEST(GrammarMatcherDistanceTest, RepeatsCountTheItemsStillOwed) {
  GrammarMatcher matcher =
      matcher_for(sequence({literal("["), repeat(literal("xy"), 2, kUnbounded), literal("]")}));
  EXPECT_EQ(matcher.distance(), 6);
  ASSERT_TRUE(matcher.accept_bytes("[xy"));
  EXPECT_EQ(matcher.distance(), 3);
  ASSERT_TRUE(matcher.accept_bytes("xy"));
  EXPECT_EQ(matcher.distance(), 1);
  ASSERT_TRUE(matcher.accept_bytes("x"));  // a third item under way
  EXPECT_EQ(matcher.distance(), 2);
}

TEST(GrammarMatcherDistanceTest, JsonSchemaCountsRequiredPropertiesAndMinItems) {
  const Grammar grammar = json_schema(boost::json::parse(
      R"({"type": "object", "properties": {"ab": {"type": "array", "items": {"type": "integer"}, "minItems": 2}},
          "required": ["ab"], "additionalProperties": false})"));
  GrammarMatcher matcher = matcher_for(grammar);
  // {"ab":[0,0]} with no optional whitespace.
  EXPECT_EQ(matcher.distance(), static_cast<int32_t>(std::string(R"({"ab":[0,0]})").size()));
}

TEST(GrammarMatcherBudgetTest, TightMasksKeepOnlyTokensThatStillFinishInTime) {
  GrammarMatcher matcher = matcher_for(sequence({literal("{"), json_string(), literal("}")}));
  ASSERT_TRUE(matcher.accept_bytes("{\""));
  // Normal: any string content.
  EXPECT_EQ(allowed_within(matcher, kUnbounded).size(), allowed(matcher).size());
  EXPECT_FALSE(matcher.tight());
  EXPECT_EQ(allowed_within(matcher, 100), allowed(matcher));
  EXPECT_FALSE(matcher.tight());
  // Three tokens left: `"` `}` <end> at the most, so no more content.
  EXPECT_EQ(allowed_within(matcher, 3), (std::vector<std::string>{"\"", "a\"", "\"}"}));
  EXPECT_TRUE(matcher.tight());
  // Two left, or one: only what closes both at once (then nothing may
  // follow, so no end token is needed).
  EXPECT_EQ(allowed_within(matcher, 2), (std::vector<std::string>{"\"}"}));
  EXPECT_EQ(allowed_within(matcher, 1), (std::vector<std::string>{"\"}"}));
  // No token left to spend: past saving; the usual mask, for max_tokens to cut.
  EXPECT_EQ(allowed_within(matcher, 0), allowed(matcher));
  EXPECT_FALSE(matcher.tight());
}

TEST(GrammarMatcherBudgetTest, TightMasksAllowEndWhereComplete) {
  GrammarMatcher matcher = matcher_for(sequence({literal("["), repeat(literal("1"), 1, kUnbounded), literal("]")}));
  ASSERT_TRUE(matcher.accept_bytes("[1"));
  EXPECT_EQ(allowed_within(matcher, 2), (std::vector<std::string>{"]"}));
  ASSERT_TRUE(matcher.accept_bytes("]"));
  EXPECT_EQ(allowed_within(matcher, 1), (std::vector<std::string>{"<end>"}));
}

}  // namespace
}  // namespace tether::constrain
