#include "engine/tokenizer/spm_tokenizer.h"

#include <vector>

#include <gtest/gtest.h>

#include "engine/gguf/gguf_file.h"
#include "engine/tokenizer/synthetic_text.h"
#include "engine/tokenizer/test_vocabs.h"
#include "engine/tokenizer/vocab.h"
#include "engine/tokenizer/vocab_reader.h"
#include "test_paths.h"

namespace tether::tokenizer {
namespace {

using testing::kSpmFirstPiece;
using testing::spm_byte;
using testing::spm_spec;
using Ids = std::vector<TokenId>;

Ids encode(const SpmTokenizer& spm, std::string_view text) {
  Ids ids;
  spm.encode(text, ids);
  return ids;
}

TEST(SpmTokenizerTest, HighestScoringPairMergesFirst) {
  // ids: 0 ▁, 1 h, 2 e, 3 l, 4 o, 5 he, 6 ll, 7 hell, 8 hello, 9 lo
  const Vocab vocab(spm_spec({{"\xE2\x96\x81", -1}, {"h", -2}, {"e", -2}, {"l", -2}, {"o", -2},
                              {"he", -3}, {"ll", -3}, {"hell", -4}, {"hello", -5}, {"lo", -2.5}}));
  const SpmTokenizer spm(vocab);
  // "lo" (-2.5) beats "ll" (-3) and so "hell"/"hello" can never form.
  EXPECT_EQ(encode(spm, " hello"),
            (Ids{kSpmFirstPiece + 0, kSpmFirstPiece + 5, kSpmFirstPiece + 3, kSpmFirstPiece + 9}));
}

TEST(SpmTokenizerTest, EqualScoresMergeLeftmostFirst) {
  const Vocab vocab(spm_spec({{"a", -1}, {"aa", -1}}));
  const SpmTokenizer spm(vocab);
  EXPECT_EQ(encode(spm, "aaa"), (Ids{kSpmFirstPiece + 1, kSpmFirstPiece}));
}

TEST(SpmTokenizerTest, UnknownCharactersFallBackToByteTokens) {
  const Vocab vocab(spm_spec({{"a", -1}}));
  const SpmTokenizer spm(vocab);
  EXPECT_EQ(encode(spm, "a\xC3\xA9"), (Ids{kSpmFirstPiece, spm_byte(0xC3), spm_byte(0xA9)}));
  // Invalid UTF-8 is not lost either.
  EXPECT_EQ(encode(spm, "\xFF"), (Ids{spm_byte(0xFF)}));
  EXPECT_EQ(spm.byte_token(0x41), spm_byte(0x41));
  EXPECT_TRUE(encode(spm, "").empty());
}

TEST(SpmTokenizerTest, TokensSpanningWordsDisableWordByWordMerging) {
  const Vocab plain(spm_spec({{"a", -1}, {"\xE2\x96\x81" "b", -1}}));
  EXPECT_TRUE(SpmTokenizer(plain).merges_words_independently());
  // "a▁" then "a▁b": a token crosses the space, so words are not independent.
  const Vocab spanning(spm_spec({{"a", -1}, {"\xE2\x96\x81" "b", -3},
                                 {"a\xE2\x96\x81", -1}, {"a\xE2\x96\x81" "b", -0.5}}));
  const SpmTokenizer spm(spanning);
  EXPECT_FALSE(spm.merges_words_independently());
  EXPECT_EQ(encode(spm, "a b"), (Ids{kSpmFirstPiece + 3}));
}

// Merging word by word must give exactly what merging the whole text gives.
// A never-matching token that holds "x▁" forces the whole-text path.
TEST(SpmTokenizerTest, WordByWordMergingMatchesWholeTextMerging) {
  TETHER_SKIP_WITHOUT_SHARED_TESTDATA();
  const auto path = ::tether::testing::shared_testdata_dir() / "vocab" / "ggml-vocab-llama-spm.gguf";
  const auto file = gguf::GgufFile::open(path);
  VocabSpec spec = read_vocab_spec(file);
  VocabSpec spanning_spec = spec;
  spanning_spec.tokens.push_back("\x01\xE2\x96\x81");
  spanning_spec.scores.push_back(-1e9f);
  spanning_spec.token_types.push_back(1);
  const Vocab vocab(std::move(spec));
  const Vocab spanning(std::move(spanning_spec));
  const SpmTokenizer by_word(vocab);
  const SpmTokenizer whole(spanning);
  ASSERT_TRUE(by_word.merges_words_independently());
  ASSERT_FALSE(whole.merges_words_independently());
  const std::string text = generate_synthetic_text(60000, 3);
  const Ids a = encode(by_word, text);
  EXPECT_EQ(a, encode(whole, text));
  EXPECT_GT(a.size(), 10000u);
}

}  // namespace
}  // namespace tether::tokenizer
