#include "router/routing_policy.h"

#include <algorithm>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "router/rendezvous.h"

namespace tether::router {
namespace {

const std::vector<std::string> kIds = {"local-0", "local-1", "local-2", "local-3"};

std::vector<ReplicaLoad> loads(std::vector<int64_t> in_flight, std::vector<size_t> matched = {}) {
  std::vector<ReplicaLoad> replicas;
  for (size_t idx = 0; idx < in_flight.size(); ++idx) {
    replicas.push_back(ReplicaLoad{kIds[idx], in_flight[idx], matched.empty() ? 0 : matched[idx]});
  }
  return replicas;
}

RouteInput input_for(RoutingPolicy policy, uint64_t ticket = 0) {
  RouteInput input;
  input.policy = policy;
  input.ticket = ticket;
  return input;
}

TEST(RoutingPolicyTest, NamesRoundTrip) {
  for (RoutingPolicy policy : {RoutingPolicy::kAffinity, RoutingPolicy::kPrefix, RoutingPolicy::kLeastLoaded,
                               RoutingPolicy::kRoundRobin}) {
    EXPECT_EQ(parse_routing_policy(routing_policy_name(policy)), policy);
  }
  EXPECT_EQ(routing_policy_name(RoutingPolicy::kLeastLoaded), "least-loaded");
  EXPECT_EQ(routing_policy_name(RoutingPolicy::kRoundRobin), "round-robin");
  EXPECT_EQ(parse_routing_policy("random"), std::nullopt);
  EXPECT_EQ(parse_routing_policy(""), std::nullopt);
  EXPECT_EQ(route_reason_name(RouteReason::kAffinityHome), "affinity_home");
  EXPECT_EQ(route_reason_name(RouteReason::kAffinitySpill), "affinity_spill");
  EXPECT_EQ(route_reason_name(RouteReason::kPrefix), "prefix");
  EXPECT_EQ(route_reason_name(RouteReason::kLeastLoaded), "load");
  EXPECT_EQ(route_reason_name(RouteReason::kRoundRobin), "round_robin");
}

TEST(RoutingPolicyTest, NoReplicasGiveAnEmptyOrder) {
  for (RoutingPolicy policy : {RoutingPolicy::kAffinity, RoutingPolicy::kPrefix, RoutingPolicy::kLeastLoaded,
                               RoutingPolicy::kRoundRobin}) {
    RouteInput input = input_for(policy);
    input.affinity_key = "k";
    EXPECT_TRUE(decide_route(input, {}).order.empty());
  }
}

TEST(RoutingPolicyTest, AffinityGoesHomeWhenUnloaded) {
  RouteInput input = input_for(RoutingPolicy::kAffinity);
  input.affinity_key = "session-7";
  const std::vector<size_t> key_order = rendezvous_order("session-7", kIds);
  const RouteDecision decision = decide_route(input, loads({0, 0, 0, 0}));
  EXPECT_EQ(decision.order, key_order);
  EXPECT_EQ(decision.reason, RouteReason::kAffinityHome);
  // The ticket plays no part.
  input.ticket = 3;
  EXPECT_EQ(decide_route(input, loads({0, 0, 0, 0})).order, key_order);
}

TEST(RoutingPolicyTest, AffinitySpillsAnOverloadedHomeToTheKeysNextReplica) {
  RouteInput input = input_for(RoutingPolicy::kAffinity);
  input.affinity_key = "session-7";
  const std::vector<size_t> key_order = rendezvous_order("session-7", kIds);
  std::vector<int64_t> in_flight(4, 0);
  in_flight[key_order[0]] = 3;  // 3 + 1 > 1.25 * (3 + 1) / 4
  const RouteDecision decision = decide_route(input, loads(in_flight));
  EXPECT_EQ(decision.reason, RouteReason::kAffinitySpill);
  EXPECT_EQ(decision.order, (std::vector<size_t>{key_order[1], key_order[0], key_order[2], key_order[3]}));

  // 2 + 1 <= c * (2 + 2 + 1) / 4 holds for c = 2.5, not for 1.25.
  in_flight.assign(4, 0);
  in_flight[key_order[0]] = 2;
  in_flight[key_order[1]] = 2;
  input.load_bound = 2.5;
  EXPECT_EQ(decide_route(input, loads(in_flight)).reason, RouteReason::kAffinityHome);
  input.load_bound = 1.25;
  const RouteDecision spilled = decide_route(input, loads(in_flight));
  EXPECT_EQ(spilled.reason, RouteReason::kAffinitySpill);
  EXPECT_EQ(spilled.order.front(), key_order[2]);  // the key's first replica under the bound
}

TEST(RoutingPolicyTest, AffinityWithNoneUnderTheBoundTakesTheLeastLoadedInKeyOrder) {
  RouteInput input = input_for(RoutingPolicy::kAffinity);
  input.affinity_key = "session-7";
  input.load_bound = 1.0;
  const std::vector<size_t> key_order = rendezvous_order("session-7", kIds);
  // In the key's order: 2, 1, 1, 2 (total 6, bound 7/4: nobody accepts).
  std::vector<int64_t> in_flight(4, 0);
  in_flight[key_order[0]] = 2;
  in_flight[key_order[1]] = 1;
  in_flight[key_order[2]] = 1;
  in_flight[key_order[3]] = 2;
  const RouteDecision decision = decide_route(input, loads(in_flight));
  EXPECT_EQ(decision.reason, RouteReason::kAffinitySpill);
  EXPECT_EQ(decision.order, (std::vector<size_t>{key_order[1], key_order[0], key_order[2], key_order[3]}));
}

// Places requests one by one (none finishing) and returns the loads.
std::vector<int64_t> place(size_t n_requests, const std::vector<std::string>& keys, double c,
                           std::vector<double>* worst_ratio_after = nullptr) {
  std::vector<int64_t> in_flight(4, 0);
  for (size_t request_idx = 0; request_idx < n_requests; ++request_idx) {
    RouteInput input = input_for(RoutingPolicy::kAffinity, request_idx);
    input.load_bound = c;
    const std::string& key = keys[request_idx % keys.size()];
    input.affinity_key = key;
    const RouteDecision decision = decide_route(input, loads(in_flight));
    ++in_flight[decision.order.front()];
    if (worst_ratio_after != nullptr) {
      const double total = static_cast<double>(request_idx + 1);
      worst_ratio_after->push_back(static_cast<double>(*std::max_element(in_flight.begin(), in_flight.end())) /
                                   (total / 4));
    }
  }
  return in_flight;
}

TEST(RoutingPolicyTest, LoadBoundSpreadsOneHotKey) {
  // Eight requests of one session on four replicas: two each.
  EXPECT_EQ(place(8, {"hot"}, 1.25), (std::vector<int64_t>{2, 2, 2, 2}));
  // Without a real bound they would all stay home.
  const std::vector<int64_t> unbounded = place(8, {"hot"}, 100.0);
  EXPECT_EQ(*std::max_element(unbounded.begin(), unbounded.end()), 8);
}

TEST(RoutingPolicyTest, LoadBoundKeepsMaxOverMeanWithinC) {
  std::vector<std::string> keys;
  for (size_t key_idx = 0; key_idx < 7; ++key_idx) keys.push_back(fmt::format("session-{}", key_idx));
  for (double c : {1.1, 1.25, 1.5}) {
    std::vector<double> ratios;
    place(1000, keys, c, &ratios);
    // Once c * (total + 1) / N clears the smallest load + 1, every placement honours the bound.
    const size_t settled = static_cast<size_t>((4 - c) / (c - 1)) + 1;
    for (size_t request_idx = settled; request_idx < ratios.size(); ++request_idx) {
      ASSERT_LE(ratios[request_idx], c + 1e-9) << "c " << c << " after request " << request_idx;
    }
  }
}

TEST(RoutingPolicyTest, PrefixScoresMatchedChunksAgainstLoad) {
  RouteInput input = input_for(RoutingPolicy::kPrefix);
  // Scores: 0, 5, 20 - 8 = 12, 5.
  RouteDecision decision = decide_route(input, loads({0, 0, 1, 0}, {0, 5, 20, 5}));
  EXPECT_EQ(decision.reason, RouteReason::kPrefix);
  EXPECT_EQ(decision.order, (std::vector<size_t>{2, 1, 3, 0}));

  // Two more in flight sink replica 2 below the others (20 - 24 = -4).
  decision = decide_route(input, loads({0, 0, 3, 0}, {0, 5, 20, 5}));
  EXPECT_EQ(decision.reason, RouteReason::kPrefix);
  EXPECT_EQ(decision.order, (std::vector<size_t>{1, 3, 0, 2}));
  // Full ties take turns by ticket.
  input.ticket = 1;
  EXPECT_EQ(decide_route(input, loads({0, 0, 3, 0}, {0, 5, 20, 5})).order, (std::vector<size_t>{3, 1, 0, 2}));

  // The weight is configurable: with 1, replica 2 keeps it at 3 in flight (17).
  input.prefix_load_weight = 1.0;
  EXPECT_EQ(decide_route(input, loads({0, 0, 3, 0}, {0, 5, 20, 5})).order.front(), 2u);
}

TEST(RoutingPolicyTest, PrefixTiesGoToTheLessLoadedAndNoMatchIsLoad) {
  RouteInput input = input_for(RoutingPolicy::kPrefix);
  // Both score 0; replica 1 has fewer in flight.
  RouteDecision decision = decide_route(input, loads({1, 0}, {8, 0}));
  EXPECT_EQ(decision.order, (std::vector<size_t>{1, 0}));
  EXPECT_EQ(decision.reason, RouteReason::kLeastLoaded);
  // Nothing matched anywhere: the least loaded, ties rotated.
  decision = decide_route(input, loads({2, 0, 1, 0}));
  EXPECT_EQ(decision.reason, RouteReason::kLeastLoaded);
  EXPECT_EQ(decision.order, (std::vector<size_t>{1, 3, 2, 0}));
  input.ticket = 5;
  EXPECT_EQ(decide_route(input, loads({2, 0, 1, 0})).order, (std::vector<size_t>{3, 1, 2, 0}));
}

TEST(RoutingPolicyTest, AffinityWithoutAKeyRoutesByPrefix) {
  RouteInput affinity = input_for(RoutingPolicy::kAffinity);
  RouteInput prefix = input_for(RoutingPolicy::kPrefix);
  const std::vector<ReplicaLoad> replicas = loads({0, 2, 1, 0}, {3, 40, 2, 0});
  const RouteDecision a = decide_route(affinity, replicas);
  const RouteDecision b = decide_route(prefix, replicas);
  EXPECT_EQ(a.order, b.order);
  EXPECT_EQ(a.reason, b.reason);
  EXPECT_EQ(a.order.front(), 1u);  // 40 - 16 = 24 beats 3
  EXPECT_EQ(a.reason, RouteReason::kPrefix);
}

TEST(RoutingPolicyTest, LeastLoadedRotatesTies) {
  RouteInput input = input_for(RoutingPolicy::kLeastLoaded);
  const std::vector<ReplicaLoad> replicas = loads({3, 1, 2, 1}, {50, 0, 0, 0});  // matches are ignored
  RouteDecision decision = decide_route(input, replicas);
  EXPECT_EQ(decision.reason, RouteReason::kLeastLoaded);
  EXPECT_EQ(decision.order, (std::vector<size_t>{1, 3, 2, 0}));
  input.ticket = 1;
  EXPECT_EQ(decide_route(input, replicas).order, (std::vector<size_t>{3, 1, 2, 0}));
  input.ticket = 2;
  EXPECT_EQ(decide_route(input, replicas).order, (std::vector<size_t>{1, 3, 2, 0}));
}

TEST(RoutingPolicyTest, RoundRobinStartsAtTheTicket) {
  RouteInput input = input_for(RoutingPolicy::kRoundRobin, 6);
  input.affinity_key = "ignored";
  const RouteDecision decision = decide_route(input, loads({0, 9, 0, 0}));
  EXPECT_EQ(decision.reason, RouteReason::kRoundRobin);
  EXPECT_EQ(decision.order, (std::vector<size_t>{2, 3, 0, 1}));
  std::vector<size_t> firsts;
  for (uint64_t ticket = 0; ticket < 5; ++ticket) {
    firsts.push_back(decide_route(input_for(RoutingPolicy::kRoundRobin, ticket), loads({0, 0, 0, 0})).order.front());
  }
  EXPECT_EQ(firsts, (std::vector<size_t>{0, 1, 2, 3, 0}));
}

}  // namespace
}  // namespace tether::router
