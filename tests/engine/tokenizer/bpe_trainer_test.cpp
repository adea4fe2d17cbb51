#include "engine/tokenizer/bpe_trainer.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace tether::tokenizer {
namespace {

std::vector<std::pair<std::string, std::string>> merge_texts(const BpeModel& model) {
  std::vector<std::pair<std::string, std::string>> texts;
  for (const auto& merge : model.merges) {
    texts.emplace_back(model.token_bytes[merge.left], model.token_bytes[merge.right]);
    EXPECT_EQ(model.token_bytes[merge.result],
              model.token_bytes[merge.left] + model.token_bytes[merge.right]);
  }
  return texts;
}

TEST(BpeTrainerTest, MergesTheMostFrequentPairFirst) {
  // ug: 20, pu: 17, un: 16, hu: 15 → ug; then un 16, h·ug 15, p·un 12...
  BpeTrainer trainer({{"hug", 10}, {"pug", 5}, {"pun", 12}, {"bun", 4}, {"hugs", 5}});
  BpeModel model = trainer.train(256 + 4, 1);
  using Pair = std::pair<std::string, std::string>;
  std::vector<Pair> expected = {{"u", "g"}, {"u", "n"}, {"h", "ug"}, {"p", "un"}};
  EXPECT_EQ(merge_texts(model), expected);
  ASSERT_EQ(model.token_bytes.size(), 260u);
  EXPECT_EQ(model.token_bytes[256], "ug");
  EXPECT_EQ(model.token_bytes[259], "pun");
  for (int byte = 0; byte < 256; ++byte) {
    EXPECT_EQ(model.token_bytes[byte], std::string(1, static_cast<char>(byte)));
  }
}

TEST(BpeTrainerTest, TiesGoToTheSmallerBytesAndStopsAtMinCount) {
  BpeTrainer trainer({{"cd", 3}, {"ab", 3}, {"xy", 1}});
  BpeModel model = trainer.train(1000, 2);
  using Pair = std::pair<std::string, std::string>;
  std::vector<Pair> expected = {{"a", "b"}, {"c", "d"}};  // xy occurs once: below min count
  EXPECT_EQ(merge_texts(model), expected);
  EXPECT_EQ(model.token_bytes.size(), 258u);
}

TEST(BpeTrainerTest, RepeatedSymbolsMergeLeftToRightWithoutOverlap) {
  BpeTrainer trainer({{"aaaa", 1}, {"aaa", 1}});
  BpeModel model = trainer.train(1000, 1);
  using Pair = std::pair<std::string, std::string>;
  // The merge turns aaaa into aa·aa and aaa into aa·a (left to right), which
  // later merges join into whole-word tokens.
  ASSERT_GE(model.merges.size(), 2u);
  EXPECT_EQ(merge_texts(model)[0], (Pair{"a", "a"}));
  std::vector<std::string> learned(model.token_bytes.begin() + 256, model.token_bytes.end());
  EXPECT_NE(std::find(learned.begin(), learned.end(), "aaaa"), learned.end());
  EXPECT_NE(std::find(learned.begin(), learned.end(), "aaa"), learned.end());
}

TEST(BpeTrainerTest, EmptyInputLearnsNothing) {
  BpeModel model = BpeTrainer({}).train(1000, 1);
  EXPECT_TRUE(model.merges.empty());
  EXPECT_EQ(model.token_bytes.size(), 256u);
  BpeModel single = BpeTrainer({{"a", 100}, {"", 5}}).train(1000, 1);
  EXPECT_TRUE(single.merges.empty());
}

}  // namespace
}  // namespace tether::tokenizer
