#include "router/router.h"

#include <algorithm>
#include <atomic>
#include <numeric>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "common/error.h"
#include "router/routing_key.h"

namespace tether::router {
namespace {

using namespace std::chrono_literals;

const std::vector<std::string> kIds = {"local-0", "local-1", "local-2", "local-3"};

RouterOptions options_with(RoutingPolicy policy) {
  RouterOptions options;
  options.policy = policy;
  return options;
}

const ReplicaStats& stats_of(const std::vector<ReplicaStats>& all, const std::string& id) {
  for (const ReplicaStats& stats : all) {
    if (stats.id == id) return stats;
  }
  throw std::runtime_error("no stats for " + id);
}

std::vector<uint64_t> chain_of(size_t n_chunks, char fill) {
  return prefix_chunk_hashes(std::string(n_chunks * 4, fill), 4);
}

TEST(RouterTest, LeasesCountInFlightAndDecisions) {
  Router router(RouterOptions{}, kIds);
  const Router::Plan plan = router.plan("session-1", {});
  ASSERT_EQ(plan.order.size(), 4u);
  EXPECT_EQ(plan.reason, RouteReason::kAffinityHome);
  {
    Router::Lease first = router.start(plan, 0);
    EXPECT_TRUE(first.active());
    EXPECT_EQ(first.replica_id(), plan.order[0]);
    Router::Lease retry = router.start(plan, 1);  // the first one failed before its first token, say
    EXPECT_EQ(retry.replica_id(), plan.order[1]);
    const auto stats = router.stats();
    EXPECT_EQ(stats_of(stats, plan.order[0]).in_flight, 1);
    EXPECT_EQ(stats_of(stats, plan.order[1]).in_flight, 1);
    EXPECT_EQ(stats_of(stats, plan.order[2]).in_flight, 0);
    EXPECT_EQ(stats_of(stats, plan.order[0]).requests, 1u);

    first.finish(100, 80);
    first.finish(100, 80);  // only the first finish counts
    EXPECT_FALSE(first.active());
    EXPECT_EQ(stats_of(router.stats(), plan.order[0]).in_flight, 0);

    // Moving hands the count over; it ends once.
    Router::Lease moved = std::move(retry);
    EXPECT_FALSE(retry.active());  // NOLINT(bugprone-use-after-move): the moved-from state is specified
    EXPECT_EQ(stats_of(router.stats(), plan.order[1]).in_flight, 1);
  }
  const auto stats = router.stats();
  for (const ReplicaStats& replica : stats) EXPECT_EQ(replica.in_flight, 0) << replica.id;
  EXPECT_EQ(stats_of(stats, plan.order[0]).prompt_tokens, 100u);
  EXPECT_EQ(stats_of(stats, plan.order[0]).cached_tokens, 80u);
  EXPECT_EQ(stats_of(stats, plan.order[1]).prompt_tokens, 0u);  // destroyed without usage

  const auto decisions = router.decisions();
  EXPECT_EQ(decisions.at("affinity_home"), 1u);
  EXPECT_EQ(decisions.at("retry"), 1u);
  EXPECT_EQ(decisions.at("affinity_spill"), 0u);
  EXPECT_EQ(decisions.at("prefix"), 0u);
  EXPECT_EQ(decisions.at("load"), 0u);
  EXPECT_EQ(decisions.at("round_robin"), 0u);
}

TEST(RouterTest, UsageIsClampedAndNeedsThePromptSize) {
  Router router(RouterOptions{}, {"only"});
  router.start(router.plan("k", {}), 0).finish(10, 50);  // more cached than prompt: capped
  router.start(router.plan("k", {}), 0).finish(std::nullopt, 5);
  router.start(router.plan("k", {}), 0).finish(20, std::nullopt);
  const ReplicaStats stats = router.stats().front();
  EXPECT_EQ(stats.prompt_tokens, 30u);
  EXPECT_EQ(stats.cached_tokens, 10u);
  EXPECT_EQ(stats.requests, 3u);
}

TEST(RouterTest, StartChecksItsArguments) {
  Router router(RouterOptions{}, kIds);
  const Router::Plan plan = router.plan(std::nullopt, {});
  try {
    router.start(plan, 4);
    FAIL() << "no error";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::kInvalidArgument);
  }
  router.set_replicas({"local-9"});
  try {
    router.start(plan, 0);
    FAIL() << "no error";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::kNotFound);
  }
  EXPECT_THROW(Router(RouterOptions{}, {"a", "b", "a"}), Error);
  EXPECT_THROW(router.set_replicas({"x", "x"}), Error);
}

TEST(RouterTest, AffinityIsStableAndTheSameOnEveryGateway) {
  Router gateway_a(RouterOptions{}, kIds);
  Router gateway_b(RouterOptions{}, {"local-3", "local-1", "local-0", "local-2"});
  for (int key_idx = 0; key_idx < 50; ++key_idx) {
    const std::string key = fmt::format("session-{}", key_idx);
    const Router::Plan plan = gateway_a.plan(key, {});
    EXPECT_EQ(gateway_a.plan(key, {}).order, plan.order);
    EXPECT_EQ(gateway_b.plan(key, {}).order, plan.order) << key;
  }
}

TEST(RouterTest, LoadBoundSpillsThroughLeases) {
  Router router(RouterOptions{}, kIds);
  std::vector<Router::Lease> leases;
  for (int request_idx = 0; request_idx < 8; ++request_idx) {
    const Router::Plan plan = router.plan("hot", {});
    leases.push_back(router.start(plan, 0));
  }
  for (const ReplicaStats& stats : router.stats()) EXPECT_EQ(stats.in_flight, 2) << stats.id;
  const auto decisions = router.decisions();
  // Only the first went home under the bound; the fifth landed there again as
  // the least loaded when every replica was over it, which counts as a spill.
  EXPECT_EQ(decisions.at("affinity_home"), 1u);
  EXPECT_EQ(decisions.at("affinity_spill"), 7u);
}

TEST(RouterTest, ConsecutiveFailuresEjectAndSuccessReadmits) {
  Router router(RouterOptions{}, kIds);  // eject after 3
  router.report_failure("local-1", "connect");
  router.report_failure("local-1", "timeout");
  router.report_success("local-1");  // resets the run
  router.report_failure("local-1", "connect");
  router.report_failure("local-1", "connect");
  EXPECT_TRUE(stats_of(router.stats(), "local-1").healthy);
  router.report_failure("local-1", "status");
  const ReplicaStats ejected = stats_of(router.stats(), "local-1");
  EXPECT_FALSE(ejected.healthy);
  EXPECT_EQ(ejected.failures, 5u);
  EXPECT_EQ(ejected.errors, (std::map<std::string, uint64_t>{{"connect", 3}, {"status", 1}, {"timeout", 1}}));

  for (int key_idx = 0; key_idx < 40; ++key_idx) {
    const Router::Plan plan = router.plan(fmt::format("k{}", key_idx), {});
    ASSERT_EQ(plan.order.size(), 3u);
    EXPECT_EQ(std::find(plan.order.begin(), plan.order.end(), "local-1"), plan.order.end());
  }
  router.report_success("local-1");
  EXPECT_TRUE(stats_of(router.stats(), "local-1").healthy);
  EXPECT_EQ(router.plan("k", {}).order.size(), 4u);
  // Unknown ids are ignored.
  router.report_failure("gone", "connect");
  router.report_success("gone");
  router.set_healthy("gone", false);
}

TEST(RouterTest, ActiveChecksOverrideAndReadmit) {
  RouterOptions options;
  options.eject_after_failures = 1;
  Router router(options, kIds);
  router.set_healthy("local-2", false);
  EXPECT_FALSE(stats_of(router.stats(), "local-2").healthy);
  router.report_success("local-2");  // a straggler's success does not overrule the probe
  EXPECT_FALSE(stats_of(router.stats(), "local-2").healthy);
  EXPECT_EQ(router.plan(std::nullopt, {}).order.size(), 3u);
  router.set_healthy("local-2", true);
  EXPECT_TRUE(stats_of(router.stats(), "local-2").healthy);

  router.report_failure("local-3", "connect");  // passive ejection...
  EXPECT_FALSE(stats_of(router.stats(), "local-3").healthy);
  router.set_healthy("local-3", true);  // ...lifted by a good probe
  EXPECT_TRUE(stats_of(router.stats(), "local-3").healthy);
}

TEST(RouterTest, EjectionCanBeTurnedOff) {
  RouterOptions options;
  options.eject_after_failures = 0;
  Router router(options, kIds);
  for (int failure_idx = 0; failure_idx < 10; ++failure_idx) router.report_failure("local-0", "connect");
  EXPECT_TRUE(stats_of(router.stats(), "local-0").healthy);
}

TEST(RouterTest, WithNoneHealthyPlansOverAll) {
  Router router(options_with(RoutingPolicy::kRoundRobin), kIds);
  for (const std::string& id : kIds) router.set_healthy(id, false);
  const Router::Plan plan = router.plan(std::nullopt, {});
  EXPECT_EQ(plan.order.size(), 4u);
  router.set_healthy("local-2", true);
  EXPECT_EQ(router.plan(std::nullopt, {}).order, (std::vector<std::string>{"local-2"}));
  Router empty(RouterOptions{}, {});
  EXPECT_TRUE(empty.plan("k", {}).order.empty());
}

TEST(RouterTest, InFlightSecondsIntegratesLoad) {
  Router router(RouterOptions{}, {"only"});
  {
    Router::Lease a = router.start(router.plan("k", {}), 0);
    Router::Lease b = router.start(router.plan("k", {}), 0);
    std::this_thread::sleep_for(60ms);
    EXPECT_GE(router.stats().front().in_flight_seconds, 2 * 0.055);  // two in flight for 60 ms
  }
  const double settled = router.stats().front().in_flight_seconds;
  EXPECT_GE(settled, 2 * 0.055);
  EXPECT_LT(settled, 2 * 5.0);
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(router.stats().front().in_flight_seconds, settled);  // nothing in flight: no growth
}

TEST(RouterTest, StartedChainsDrawTheNextTurnUnderThePrefixPolicy) {
  RouterOptions options = options_with(RoutingPolicy::kPrefix);
  options.chunk_bytes = 4;
  Router router(options, kIds);
  const std::vector<uint64_t> turn1 = chain_of(12, 'a');
  std::vector<uint64_t> turn2 = turn1;
  for (uint64_t extra : chain_of(5, 'b')) turn2.push_back(extra);

  const Router::Plan first = router.plan(std::nullopt, turn1);
  EXPECT_EQ(first.reason, RouteReason::kLeastLoaded);  // nothing known yet
  EXPECT_EQ(first.chain, turn1);
  const std::string home = first.order[0];
  {
    Router::Lease lease = router.start(first, 0);
    // Even while busy (12 chunks beat one request's 8), the holder of the prefix wins.
    const Router::Plan busy = router.plan(std::nullopt, turn2);
    EXPECT_EQ(busy.order[0], home);
    EXPECT_EQ(busy.reason, RouteReason::kPrefix);
  }
  for (int turn_idx = 0; turn_idx < 5; ++turn_idx) {
    const Router::Plan next = router.plan(std::nullopt, turn2);
    EXPECT_EQ(next.order[0], home);
    EXPECT_EQ(next.reason, RouteReason::kPrefix);
  }
  // Another conversation has no pull: it goes by load, away from the busy home.
  Router::Lease busy_home = router.start(router.plan(std::nullopt, turn2), 0);
  const Router::Plan other = router.plan(std::nullopt, chain_of(12, 'z'));
  EXPECT_EQ(other.reason, RouteReason::kLeastLoaded);
  EXPECT_NE(other.order[0], home);
  EXPECT_EQ(router.decisions().at("prefix"), 1u);
  EXPECT_EQ(router.decisions().at("load"), 1u);
}

TEST(RouterTest, AffinityPolicyWithoutAKeyUsesThePrefixIndex) {
  RouterOptions options;
  options.chunk_bytes = 4;
  Router router(options, kIds);
  const std::vector<uint64_t> chain = chain_of(10, 'q');
  const Router::Plan first = router.plan(std::nullopt, chain);
  router.start(first, 0).finish(40, 0);
  const Router::Plan second = router.plan(std::nullopt, chain);
  EXPECT_EQ(second.order[0], first.order[0]);
  EXPECT_EQ(second.reason, RouteReason::kPrefix);
  // With a key, the key decides.
  EXPECT_EQ(router.plan("key", chain).reason, RouteReason::kAffinityHome);
}

TEST(RouterTest, RoundRobinAndLeastLoadedThroughTheRouter) {
  Router round_robin(options_with(RoutingPolicy::kRoundRobin), kIds);
  std::vector<std::string> firsts;
  for (int request_idx = 0; request_idx < 5; ++request_idx) firsts.push_back(round_robin.plan("k", {}).order[0]);
  EXPECT_EQ(firsts, (std::vector<std::string>{"local-0", "local-1", "local-2", "local-3", "local-0"}));

  Router least_loaded(options_with(RoutingPolicy::kLeastLoaded), kIds);
  std::vector<Router::Lease> leases;
  for (int request_idx = 0; request_idx < 8; ++request_idx) {
    const Router::Plan plan = least_loaded.plan("k", {});
    EXPECT_EQ(plan.reason, RouteReason::kLeastLoaded);
    leases.push_back(least_loaded.start(plan, 0));
  }
  for (const ReplicaStats& stats : least_loaded.stats()) EXPECT_EQ(stats.in_flight, 2) << stats.id;
  EXPECT_EQ(least_loaded.decisions().at("load"), 8u);
}

TEST(RouterTest, SetReplicasKeepsStateOfKeptIds) {
  Router router(RouterOptions{}, {"a", "b", "c"});
  router.set_healthy("b", false);
  Router::Lease on_c = router.start(Router::Plan{{"c"}, RouteReason::kAffinityHome, {}}, 0);
  Router::Lease on_a = router.start(Router::Plan{{"a"}, RouteReason::kAffinityHome, {}}, 0);
  router.set_replicas({"c", "b", "d"});
  EXPECT_EQ(router.replica_ids(), (std::vector<std::string>{"c", "b", "d"}));
  const auto stats = router.stats();
  EXPECT_EQ(stats_of(stats, "c").in_flight, 1);
  EXPECT_EQ(stats_of(stats, "c").requests, 1u);
  EXPECT_FALSE(stats_of(stats, "b").healthy);
  EXPECT_TRUE(stats_of(stats, "d").healthy);
  EXPECT_EQ(stats_of(stats, "d").requests, 0u);
  on_a.finish(10, 5);  // its replica is gone: no harm
  on_c.finish(10, 5);
  EXPECT_EQ(stats_of(router.stats(), "c").in_flight, 0);
}

TEST(RouterTest, LeasesMayOutliveTheRouter) {
  Router::Lease lease;
  EXPECT_FALSE(lease.active());
  EXPECT_EQ(lease.replica_id(), "");
  {
    Router router(RouterOptions{}, kIds);
    lease = router.start(router.plan("k", {}), 0);
  }
  EXPECT_TRUE(lease.active());
  lease.finish(1, 1);
  EXPECT_FALSE(lease.active());
}

TEST(RouterTest, ConcurrentRoutingSmoke) {
  RouterOptions options;
  options.chunk_bytes = 8;
  options.eject_after_failures = 1000;
  auto router = std::make_shared<Router>(options, kIds);
  constexpr int kThreads = 4;
  constexpr int kRequests = 400;
  std::atomic<bool> stop{false};
  std::thread reader([&] {
    while (!stop.load()) {
      int64_t in_flight = 0;
      for (const ReplicaStats& stats : router->stats()) in_flight += stats.in_flight;
      EXPECT_GE(in_flight, 0);
      EXPECT_LE(in_flight, 2 * kThreads);
      router->decisions();
    }
  });
  std::vector<std::thread> workers;
  for (int thread_idx = 0; thread_idx < kThreads; ++thread_idx) {
    workers.emplace_back([&, thread_idx] {
      for (int request_idx = 0; request_idx < kRequests; ++request_idx) {
        const std::string text = fmt::format("conversation {} turn {} {}", request_idx % 7, request_idx,
                                             std::string(static_cast<size_t>(request_idx % 50), 'x'));
        std::optional<std::string> key;
        if (request_idx % 2 == 0) key = fmt::format("session-{}", (thread_idx + request_idx) % 11);
        const Router::Plan plan = router->plan(key, prefix_chunk_hashes(text, options.chunk_bytes));
        Router::Lease lease = router->start(plan, 0);
        if (request_idx % 5 == 0 && plan.order.size() > 1) {
          router->report_failure(lease.replica_id(), "connect");
          Router::Lease retry = router->start(plan, 1);
          router->report_success(retry.replica_id());
        }
        if (request_idx % 3 == 0) lease.finish(100, 50);
      }
    });
  }
  for (std::thread& worker : workers) worker.join();
  stop = true;
  reader.join();

  uint64_t requests = 0;
  for (const ReplicaStats& stats : router->stats()) {
    EXPECT_EQ(stats.in_flight, 0) << stats.id;
    EXPECT_TRUE(stats.healthy) << stats.id;
    requests += stats.requests;
  }
  const int retries = kThreads * ((kRequests + 4) / 5);
  EXPECT_EQ(requests, static_cast<uint64_t>(kThreads * kRequests + retries));
  const auto decisions = router->decisions();
  const uint64_t counted = std::accumulate(decisions.begin(), decisions.end(), uint64_t{0},
                                           [](uint64_t sum, const auto& entry) { return sum + entry.second; });
  EXPECT_EQ(counted, requests);
  EXPECT_EQ(decisions.at("retry"), static_cast<uint64_t>(retries));
}

}  // namespace
}  // namespace tether::router
