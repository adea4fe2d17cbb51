#include "engine/model/seeded_weights.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include <xxhash.h>

namespace tether::model {
namespace {

constexpr uint64_t kPinnedRowHash = 13933805500009205730ull;  // of the little-endian bytes

std::vector<float> row(uint64_t seed, std::string_view name, uint64_t row_idx, size_t n,
                       float mean = 0.0f, float std_dev = 1.0f) {
  std::vector<float> values(n);
  SeededWeights(seed, name).fill_row(row_idx, mean, std_dev, values);
  return values;
}

TEST(SeededWeightsTest, StreamsDependOnSeedNameAndRowOnly) {
  EXPECT_EQ(row(1, "blk.0.attn_q.weight", 3, 100), row(1, "blk.0.attn_q.weight", 3, 100));
  EXPECT_NE(row(1, "blk.0.attn_q.weight", 3, 100), row(2, "blk.0.attn_q.weight", 3, 100));
  EXPECT_NE(row(1, "blk.0.attn_q.weight", 3, 100), row(1, "blk.0.attn_k.weight", 3, 100));
  EXPECT_NE(row(1, "blk.0.attn_q.weight", 3, 100), row(1, "blk.0.attn_q.weight", 4, 100));
  // A shorter row is a prefix of a longer one: values do not depend on length.
  auto longer = row(7, "x", 0, 101);
  auto shorter = row(7, "x", 0, 100);
  EXPECT_TRUE(std::equal(shorter.begin(), shorter.end(), longer.begin()));
}

TEST(SeededWeightsTest, ValuesAreNormalWithTheAskedMeanAndStd) {
  constexpr size_t kCount = 200000;
  auto values = row(42, "token_embd.weight", 0, kCount, 0.5f, 0.02f);
  double sum = 0, sum_sq = 0;
  size_t within_one_std = 0, beyond_three = 0;
  for (float value : values) {
    ASSERT_TRUE(std::isfinite(value));
    sum += value;
    double z = (value - 0.5) / 0.02;
    within_one_std += std::abs(z) < 1.0;
    beyond_three += std::abs(z) > 3.0;
  }
  double mean = sum / kCount;
  for (float value : values) sum_sq += (value - mean) * (value - mean);
  double std_dev = std::sqrt(sum_sq / kCount);
  EXPECT_NEAR(mean, 0.5, 0.0005);
  EXPECT_NEAR(std_dev, 0.02, 0.0005);
  // Shape of a normal: 68.3% within one sigma, 0.27% beyond three.
  EXPECT_NEAR(static_cast<double>(within_one_std) / kCount, 0.6827, 0.01);
  EXPECT_NEAR(static_cast<double>(beyond_three) / kCount, 0.0027, 0.001);
}

// Pins the generator: every model make-model writes (and any golden output
// computed from one) changes if these bits do. The generator uses only IEEE
// + - * / and sqrt, so the bits are the same on every conforming machine.
TEST(SeededWeightsTest, StreamIsPinned) {
  auto values = row(1, "blk.0.attn_q.weight", 7, 256, 0.0f, 0.0625f);
  EXPECT_EQ(XXH64(values.data(), values.size() * sizeof(float), 0), kPinnedRowHash);
}

}  // namespace
}  // namespace tether::model
