#include "router/router_metrics.h"

#include <memory>
#include <string>

#include <gtest/gtest.h>

namespace tether::router {
namespace {

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST(RouterMetricsTest, ExposesTheRoutingFamilies) {
  auto router = std::make_shared<Router>(RouterOptions{}, std::vector<std::string>{"local-0", "local-1"});
  metrics::Registry registry;
  register_router_metrics(registry, "demo", router);

  Router::Plan plan{{"local-0", "local-1"}, RouteReason::kAffinityHome, {}};
  Router::Lease running = router->start(plan, 0);
  router->start(plan, 1).finish(200, 150);
  router->report_failure("local-0", "connect");
  router->report_failure("local-0", "connect");
  router->report_failure("local-0", "connect");  // ejected

  const std::string text = registry.expose();
  EXPECT_TRUE(contains(text, "# TYPE tether_router_decisions_total counter\n")) << text;
  EXPECT_TRUE(contains(text, "tether_router_decisions_total{model=\"demo\",reason=\"affinity_home\"} 1\n")) << text;
  EXPECT_TRUE(contains(text, "tether_router_decisions_total{model=\"demo\",reason=\"retry\"} 1\n")) << text;
  EXPECT_TRUE(contains(text, "tether_router_decisions_total{model=\"demo\",reason=\"affinity_spill\"} 0\n")) << text;
  EXPECT_TRUE(contains(text, "# TYPE tether_router_replica_in_flight gauge\n")) << text;
  EXPECT_TRUE(contains(text, "tether_router_replica_in_flight{model=\"demo\",replica=\"local-0\"} 1\n")) << text;
  EXPECT_TRUE(contains(text, "tether_router_replica_in_flight{model=\"demo\",replica=\"local-1\"} 0\n")) << text;
  EXPECT_TRUE(contains(text, "tether_router_replica_healthy{model=\"demo\",replica=\"local-0\"} 0\n")) << text;
  EXPECT_TRUE(contains(text, "tether_router_replica_healthy{model=\"demo\",replica=\"local-1\"} 1\n")) << text;
  EXPECT_TRUE(contains(text, "tether_router_replica_requests_total{model=\"demo\",replica=\"local-1\"} 1\n")) << text;
  EXPECT_TRUE(contains(text, "tether_router_replica_cached_share{model=\"demo\",replica=\"local-1\"} 0.75\n")) << text;
  EXPECT_TRUE(contains(text, "tether_router_replica_cached_share{model=\"demo\",replica=\"local-0\"} 0\n")) << text;
  EXPECT_TRUE(contains(text, "# TYPE tether_router_upstream_errors_total counter\n")) << text;
  EXPECT_TRUE(
      contains(text, "tether_router_upstream_errors_total{model=\"demo\",replica=\"local-0\",kind=\"connect\"} 3\n"))
      << text;

  // Read at scrape time.
  running.finish(std::nullopt, std::nullopt);
  EXPECT_TRUE(contains(registry.expose(), "tether_router_replica_in_flight{model=\"demo\",replica=\"local-0\"} 0\n"));
}

TEST(RouterMetricsTest, SeveralModelsShareTheFamilies) {
  auto chat = std::make_shared<Router>(RouterOptions{}, std::vector<std::string>{"local-0"});
  auto embed = std::make_shared<Router>(RouterOptions{}, std::vector<std::string>{"http-a"});
  for (int round = 0; round < 2; ++round) {  // a fresh registry (maybe at the same address) registers afresh
    metrics::Registry registry;
    register_router_metrics(registry, "chat", chat);
    register_router_metrics(registry, "embed", embed);
    const std::string text = registry.expose();
    EXPECT_TRUE(contains(text, "tether_router_replica_healthy{model=\"chat\",replica=\"local-0\"} 1\n")) << text;
    EXPECT_TRUE(contains(text, "tether_router_replica_healthy{model=\"embed\",replica=\"http-a\"} 1\n")) << text;
    size_t type_lines = 0;
    for (size_t pos = text.find("# TYPE tether_router_replica_healthy"); pos != std::string::npos;
         pos = text.find("# TYPE tether_router_replica_healthy", pos + 1)) {
      ++type_lines;
    }
    EXPECT_EQ(type_lines, 1u);
  }
}

TEST(RouterMetricsTest, RegisteringAModelAgainReplacesItsRouter) {
  metrics::Registry registry;
  register_router_metrics(registry, "m",
                          std::make_shared<Router>(RouterOptions{}, std::vector<std::string>{"old"}));
  register_router_metrics(registry, "m",
                          std::make_shared<Router>(RouterOptions{}, std::vector<std::string>{"new"}));
  const std::string text = registry.expose();
  EXPECT_TRUE(contains(text, "replica=\"new\"")) << text;
  EXPECT_FALSE(contains(text, "replica=\"old\"")) << text;
}

}  // namespace
}  // namespace tether::router
