#include "engine/tokenizer/token_text_index.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace tether::tokenizer {
namespace {

TEST(TokenTextIndexTest, FindsEveryTextAndMissesOthers) {
  std::vector<std::string> texts;
  for (int i = 0; i < 3000; ++i) texts.push_back("t" + std::to_string(i));
  const TokenTextIndex index(&texts);
  for (int i = 0; i < 3000; ++i) EXPECT_EQ(index.find(texts[static_cast<size_t>(i)]), i);
  EXPECT_EQ(index.find("t3000"), kNoToken);
  EXPECT_EQ(index.find("t1 "), kNoToken);
  EXPECT_EQ(index.find(""), kNoToken);
}

TEST(TokenTextIndexTest, LastDuplicateWinsAndEmptyTextsAreNotIndexed) {
  const std::vector<std::string> texts{"a", "", "b", "a"};
  const TokenTextIndex index(&texts);
  EXPECT_EQ(index.find("a"), 3);
  EXPECT_EQ(index.find("b"), 2);
  EXPECT_EQ(index.find(""), kNoToken);
  EXPECT_EQ(TokenTextIndex().find("a"), kNoToken);
}

}  // namespace
}  // namespace tether::tokenizer
