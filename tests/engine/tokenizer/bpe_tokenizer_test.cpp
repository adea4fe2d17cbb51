#include "engine/tokenizer/bpe_tokenizer.h"

#include <vector>

#include <gtest/gtest.h>

#include "common/error.h"
#include "engine/tokenizer/test_vocabs.h"
#include "engine/tokenizer/vocab.h"

namespace tether::tokenizer {
namespace {

using testing::bpe_spec;
using Ids = std::vector<TokenId>;

Ids encode(const BpeTokenizer& bpe, std::string_view text) {
  Ids ids;
  bpe.encode(text, ids);
  return ids;
}

TEST(BpeTokenizerTest, MergesByRankWithinEachWord) {
  // ids 256.. : he ll hell hello Ġw or Ġwor ld Ġworld
  const Vocab vocab(bpe_spec({"he", "ll", "hell", "hello", "Ġw", "or", "Ġwor", "ld", "Ġworld"},
                             {"h e", "l l", "he ll", "hell o", "Ġ w", "o r", "Ġw or", "l d",
                              "Ġwor ld"}));
  const BpeTokenizer bpe(vocab);
  EXPECT_EQ(encode(bpe, "hello world"), (Ids{259, 264}));
  // No merge crosses a word boundary: "he" then " ll" stays apart.
  EXPECT_EQ(encode(bpe, "he ll"), (Ids{256, ' ' , 257}));
}

TEST(BpeTokenizerTest, LowerRankWinsAndTiesGoLeftmost) {
  const Vocab ranked(bpe_spec({"bc", "ab"}, {"b c", "a b"}));
  EXPECT_EQ(encode(BpeTokenizer(ranked), "abc"), (Ids{'a', 256}));
  const Vocab repeated(bpe_spec({"aa"}, {"a a"}));
  EXPECT_EQ(encode(BpeTokenizer(repeated), "aaa"), (Ids{256, 'a'}));
}

TEST(BpeTokenizerTest, IntermediateMergesNeedNotBeTokens) {
  const Vocab vocab(bpe_spec({"xyz"}, {"x y", "xy z"}));
  EXPECT_EQ(encode(BpeTokenizer(vocab), "xyz"), (Ids{256}));
  // A final symbol that is not a token falls back to its single-byte tokens.
  EXPECT_EQ(encode(BpeTokenizer(vocab), "xy"), (Ids{'x', 'y'}));
}

TEST(BpeTokenizerTest, Llama3TakesWholeWordTokensWithoutMerging) {
  const Vocab llama3(bpe_spec({"hello"}, {}, "llama3"));
  EXPECT_EQ(encode(BpeTokenizer(llama3), "hello"), (Ids{256}));
  const Vocab gpt2(bpe_spec({"hello"}, {}, "gpt-2"));
  EXPECT_EQ(encode(BpeTokenizer(gpt2), "hello"), (Ids{'h', 'e', 'l', 'l', 'o'}));
}

TEST(BpeTokenizerTest, BytesMapThroughTheGpt2Alphabet) {
  const Vocab vocab(bpe_spec({}, {}));
  const BpeTokenizer bpe(vocab);
  // Token ids equal bytes in this vocabulary, whatever symbol spells them.
  EXPECT_EQ(encode(bpe, " \n\xC3\xA9"), (Ids{' ', '\n', 0xC3, 0xA9}));
  // Invalid UTF-8 becomes U+FFFD (EF BF BD) before splitting.
  EXPECT_EQ(encode(bpe, "\xFF"), (Ids{0xEF, 0xBF, 0xBD}));
  EXPECT_TRUE(encode(bpe, "").empty());
}

}  // namespace
}  // namespace tether::tokenizer
