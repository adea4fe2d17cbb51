#include "engine/tokenizer/merge_table.h"

#include <gtest/gtest.h>

namespace tether::tokenizer {
namespace {

TEST(MergeTableTest, FindsWhatWasInsertedAndKeepsTheFirstRule) {
  MergeTable table(2);
  table.insert(1, 2, {0, 10});
  table.insert(2, 1, {1, 11});
  table.insert(1, 2, {5, 99});  // a repeated pair keeps its first rank
  ASSERT_NE(table.find(1, 2), nullptr);
  EXPECT_EQ(table.find(1, 2)->rank, 0);
  EXPECT_EQ(table.find(1, 2)->result, 10);
  EXPECT_EQ(table.find(2, 1)->result, 11);
  EXPECT_EQ(table.find(1, 1), nullptr);
  EXPECT_EQ(table.size(), 2u);
}

TEST(MergeTableTest, GrowsPastItsInitialCapacity) {
  MergeTable table;
  for (int32_t i = 0; i < 5000; ++i) table.insert(i, i * 7 + 1, {i, i + 1});
  EXPECT_EQ(table.size(), 5000u);
  for (int32_t i = 0; i < 5000; ++i) {
    const MergeTable::Rule* rule = table.find(i, i * 7 + 1);
    ASSERT_NE(rule, nullptr) << i;
    EXPECT_EQ(rule->rank, i);
  }
  EXPECT_EQ(table.find(3, 3), nullptr);
}

}  // namespace
}  // namespace tether::tokenizer
