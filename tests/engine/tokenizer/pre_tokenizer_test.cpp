#include "engine/tokenizer/pre_tokenizer.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/error.h"
#include "engine/tokenizer/synthetic_text.h"

namespace tether::tokenizer {
namespace {

std::vector<std::string> words(std::string_view pre_type, std::string_view text) {
  const PreTokenizer pre = PreTokenizer::for_type(pre_type);
  std::vector<std::string> out;
  for (std::string_view word : pre.split(text)) out.emplace_back(word);
  return out;
}

using Words = std::vector<std::string>;

TEST(PreTokenizerTest, Gpt2SplitsWordsNumbersPunctuationAndContractions) {
  EXPECT_EQ(words("gpt-2", "Hello world's  test 123!!"),
            (Words{"Hello", " world", "'s", " ", " test", " 123", "!!"}));
  EXPECT_EQ(words("gpt-2", "I'll  'RE"), (Words{"I", "'ll", " ", " '", "RE"}));
}

TEST(PreTokenizerTest, WhitespaceBeforeAWordLeavesItsLastSpaceToTheWord) {
  // \s+(?!\S) backs off one character; a lone tab before a letter stays alone.
  EXPECT_EQ(words("gpt-2", "a   b"), (Words{"a", "  ", " b"}));
  EXPECT_EQ(words("gpt-2", "\t\tb"), (Words{"\t", "\t", "b"}));
  EXPECT_EQ(words("gpt-2", "a   "), (Words{"a", "   "}));
}

TEST(PreTokenizerTest, Llama3GroupsDigitsByThreeAndKeepsNewlineRuns) {
  EXPECT_EQ(words("llama3", "12345 abc"), (Words{"123", "45", " abc"}));
  EXPECT_EQ(words("llama-bpe", "don'T"), (Words{"don", "'T"}));
  EXPECT_EQ(words("llama3", "\n\n  x"), (Words{"\n\n", " ", " x"}));
  EXPECT_TRUE(PreTokenizer::for_type("llama3").ignore_merges());
  EXPECT_FALSE(PreTokenizer::for_type("gpt-2").ignore_merges());
}

TEST(PreTokenizerTest, Qwen2SplitsEveryDigit) {
  EXPECT_EQ(words("qwen2", "x123"), (Words{"x", "1", "2", "3"}));
}

TEST(PreTokenizerTest, SequencesApplyEachRegexToTheFragmentsOfThePrevious) {
  EXPECT_EQ(words("starcoder", "abc123"), (Words{"abc", "1", "2", "3"}));
  EXPECT_EQ(words("falcon", "12345"), (Words{"123", "45"}));
  EXPECT_EQ(words("default", "a+b"), (Words{"a", "+", "b"}));
  EXPECT_EQ(words("deepseek-coder", "a\nb"), (Words{"a", "\n", "b"}));
  EXPECT_EQ(words("deepseek-llm", "Hello, 世界"), (Words{"Hello", ",", " ", "世界"}));
}

TEST(PreTokenizerTest, UnicodeCategoriesAreUnicodeAware) {
  // é is a letter, ٣ (Arabic-Indic three) a number, 🦙 neither.
  EXPECT_EQ(words("gpt-2", "café ٣٣ 🦙🦙"), (Words{"café", " ٣٣", " 🦙🦙"}));
}

TEST(PreTokenizerTest, EveryTypeCoversTheInputExactly) {
  const std::string text = generate_synthetic_text(20000, 7);
  for (const std::string& type : PreTokenizer::known_types()) {
    const PreTokenizer pre = PreTokenizer::for_type(type);
    std::string joined;
    size_t n_words = 0;
    for (std::string_view word : pre.split(text)) {
      ASSERT_FALSE(word.empty()) << type;
      joined += word;
      ++n_words;
    }
    EXPECT_EQ(joined, text) << type;
    EXPECT_GT(n_words, 1000u) << type;
  }
  EXPECT_TRUE(PreTokenizer::for_type("gpt-2").split("").empty());
}

TEST(PreTokenizerTest, UnknownTypeIsAClearError) {
  try {
    PreTokenizer::for_type("no-such-pre");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUnsupported);
    EXPECT_NE(std::string(e.what()).find("no-such-pre"), std::string::npos);
  }
  EXPECT_FALSE(PreTokenizer::is_known_type("no-such-pre"));
  EXPECT_TRUE(PreTokenizer::is_known_type("mpt"));
}

TEST(PreTokenizerTest, BadCustomPatternIsAnError) {
  EXPECT_THROW(PreTokenizer::from_patterns("bad", {"(unclosed"}), Error);
  const PreTokenizer custom = PreTokenizer::from_patterns("digits", {R"(\d+)"});
  const auto parts = custom.split("ab12cd");
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(parts[1], "12");
}

TEST(PreTokenizerTest, LongWhitespaceRunsDoNotFail) {
  const std::string text = std::string(200000, ' ') + "x";
  const auto parts = PreTokenizer::for_type("llama3").split(text);
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_EQ(parts[0].size(), 199999u);
  EXPECT_EQ(parts[1], " x");
}

}  // namespace
}  // namespace tether::tokenizer
