#include "router/rendezvous.h"

#include <algorithm>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

namespace tether::router {
namespace {

std::vector<std::string> replica_names(size_t n) {
  std::vector<std::string> ids;
  for (size_t idx = 0; idx < n; ++idx) ids.push_back(fmt::format("local-{}", idx));
  return ids;
}

std::string first_choice(const std::string& key, const std::vector<std::string>& ids) {
  return ids[rendezvous_order(key, ids).front()];
}

TEST(RendezvousTest, ScoresArePinned) {
  // Every gateway, build and machine must rank a key's replicas alike.
  EXPECT_EQ(rendezvous_score("session-1", "local-0"), 16886093986816949106ull);
  EXPECT_EQ(rendezvous_score("session-1", "local-1"), 3385927558471159184ull);
  EXPECT_EQ(rendezvous_score("", ""), 13950552670896955818ull);
  EXPECT_EQ(rendezvous_score("user-42", "10.0.0.7:8080"), 14635069837776288107ull);
}

TEST(RendezvousTest, ScoresDependOnBothKeyAndReplica) {
  EXPECT_NE(rendezvous_score("a", "local-0"), rendezvous_score("b", "local-0"));
  EXPECT_NE(rendezvous_score("a", "local-0"), rendezvous_score("a", "local-1"));
  // Not a hash of the concatenation.
  EXPECT_NE(rendezvous_score("ab", "c"), rendezvous_score("a", "bc"));
}

TEST(RendezvousTest, OrderIsByScoreAndStableAcrossInputOrder) {
  const std::vector<std::string> ids = replica_names(6);
  const std::vector<size_t> order = rendezvous_order("key", ids);
  ASSERT_EQ(order.size(), ids.size());
  std::vector<size_t> sorted = order;
  std::sort(sorted.begin(), sorted.end());
  for (size_t idx = 0; idx < sorted.size(); ++idx) EXPECT_EQ(sorted[idx], idx);  // a permutation
  for (size_t pos = 1; pos < order.size(); ++pos) {
    EXPECT_GT(rendezvous_score("key", ids[order[pos - 1]]), rendezvous_score("key", ids[order[pos]]));
  }
  // The same replicas listed in another order give the same ranking of ids.
  std::vector<std::string> reversed(ids.rbegin(), ids.rend());
  const std::vector<size_t> reversed_order = rendezvous_order("key", reversed);
  for (size_t pos = 0; pos < order.size(); ++pos) EXPECT_EQ(ids[order[pos]], reversed[reversed_order[pos]]);
  // And again on a second call.
  EXPECT_EQ(rendezvous_order("key", ids), order);
}

TEST(RendezvousTest, EqualIdsTieByIndex) {
  const std::vector<std::string> ids = {"same", "same", "other"};
  const std::vector<size_t> order = rendezvous_order("k", ids);
  const auto first_same = std::find(order.begin(), order.end(), size_t{0});
  const auto second_same = std::find(order.begin(), order.end(), size_t{1});
  EXPECT_LT(first_same, second_same);
  EXPECT_EQ(second_same - first_same, 1);
}

TEST(RendezvousTest, EmptyReplicaSetGivesEmptyOrder) {
  EXPECT_TRUE(rendezvous_order("k", std::vector<std::string>{}).empty());
}

TEST(RendezvousTest, AddingAReplicaMovesAboutOneInNAndOnlyToIt) {
  constexpr size_t kKeys = 10'000;
  const std::vector<std::string> four = replica_names(4);
  const std::vector<std::string> five = replica_names(5);
  size_t moved = 0;
  std::vector<size_t> per_replica(5, 0);
  for (size_t key_idx = 0; key_idx < kKeys; ++key_idx) {
    const std::string key = fmt::format("session-{}", key_idx);
    const std::string before = first_choice(key, four);
    const std::string after = first_choice(key, five);
    if (before != after) {
      ++moved;
      EXPECT_EQ(after, "local-4") << key << " moved between old replicas";
    }
    ++per_replica[rendezvous_order(key, five).front()];
  }
  const double fraction = static_cast<double>(moved) / kKeys;
  EXPECT_GT(fraction, 0.17);
  EXPECT_LT(fraction, 0.23);
  // And the keys spread evenly over the five.
  for (size_t count : per_replica) {
    EXPECT_GT(count, kKeys / 5 * 85 / 100);
    EXPECT_LT(count, kKeys / 5 * 115 / 100);
  }
}

TEST(RendezvousTest, RemovingAReplicaMovesOnlyItsKeys) {
  constexpr size_t kKeys = 10'000;
  const std::vector<std::string> five = replica_names(5);
  std::vector<std::string> without_two = five;
  without_two.erase(without_two.begin() + 2);
  size_t moved = 0;
  for (size_t key_idx = 0; key_idx < kKeys; ++key_idx) {
    const std::string key = fmt::format("user-{}", key_idx);
    const std::string before = first_choice(key, five);
    const std::string after = first_choice(key, without_two);
    if (before == "local-2") {
      ++moved;
      // Its keys go to their second choice.
      EXPECT_EQ(after, five[rendezvous_order(key, five)[1]]);
    } else {
      EXPECT_EQ(after, before) << key;
    }
  }
  const double fraction = static_cast<double>(moved) / kKeys;
  EXPECT_GT(fraction, 0.17);
  EXPECT_LT(fraction, 0.23);
}

}  // namespace
}  // namespace tether::router
