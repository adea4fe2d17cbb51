// The API service over a route of several local engine replicas behind the
// router: affinity keeps a session and its cache together, round robin
// spreads.

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <string>

#include "../http/test_server.h"
#include "../sched/engine_test_support.h"
#include "api/api_service.h"

namespace tether::api {
namespace {

using namespace std::chrono_literals;
using tether::testing::RawResponse;
using tether::testing::TestServer;

sched::EngineOptions small_engine() {
  sched::EngineOptions options;
  options.threads = 1;
  options.kv_memory_bytes = size_t{8} << 20;
  return options;
}

class RoutingTest : public ::testing::Test {
 protected:
  void start(int32_t replicas, router::RouterOptions options) {
    served_ = make_served_model(sched::testing::tiny_model_file(), "tiny", {}, small_engine(), replicas);
    route_ = make_model_route(served_, options);
    service_ = std::make_unique<ApiService>(std::vector<std::shared_ptr<ServedModel>>{}, nullptr);
    service_->add_route(route_);
    server_ = std::make_unique<TestServer>();
    service_->register_routes(server_->router());
    server_->start();
  }
  void TearDown() override {
    server_.reset();
    service_.reset();
  }

  RawResponse chat(const std::string& messages, const std::string& key, bool stream = false) {
    const std::string body = R"({"model": "tiny", "max_tokens": 4, "temperature": 0, "stream": )" +
                             std::string(stream ? "true" : "false") + R"(, "messages": )" + messages + "}";
    const std::string headers = key.empty() ? "" : "x-session-affinity: " + key + "\r\n";
    auto response =
        tether::testing::raw_request(server_->port(), tether::testing::post_request("/v1/chat/completions", body, headers));
    EXPECT_TRUE(response.has_value());
    return response.value_or(RawResponse{});
  }

  std::map<std::string, router::ReplicaStats> stats() const {
    std::map<std::string, router::ReplicaStats> by_id;
    for (auto& replica : route_->router->stats()) by_id[replica.id] = replica;
    return by_id;
  }

  std::shared_ptr<ServedModel> served_;
  std::shared_ptr<ModelRoute> route_;
  std::unique_ptr<ApiService> service_;
  std::unique_ptr<TestServer> server_;
};

std::string conversation(const std::string& who, int turns) {
  std::string messages = R"([{"role": "system", "content": "You are the careful assistant of )" + who +
                         R"(, who asks about many things and wants short, exact answers every time."})";
  for (int t = 0; t < turns; ++t) {
    messages += R"(, {"role": "user", "content": "Question number )" + std::to_string(t) + " from " + who + R"("})";
    if (t + 1 < turns) messages += R"(, {"role": "assistant", "content": "Answer )" + std::to_string(t) + R"("})";
  }
  return messages + "]";
}

int64_t cached_tokens(const RawResponse& response) {
  const boost::json::value body = boost::json::parse(response.body);
  return body.at("usage").at("prompt_tokens_details").at("cached_tokens").as_int64();
}

TEST_F(RoutingTest, AffinityKeepsEachSessionAndItsCacheOnOneReplica) {
  start(3, router::RouterOptions{});
  // Many sessions, two turns each, one after the other: every session's
  // second turn lands where its first did and finds its prefix cached.
  std::map<std::string, uint64_t> before;
  for (int s = 0; s < 9; ++s) {
    const std::string key = "session-" + std::to_string(s);
    const std::string who = "user " + std::to_string(s);
    before.clear();
    for (const auto& [id, replica] : stats()) before[id] = replica.requests;
    RawResponse first = chat(conversation(who, 1), key);
    ASSERT_EQ(first.status, 200) << first.body;
    RawResponse second = chat(conversation(who, 2), key);
    ASSERT_EQ(second.status, 200) << second.body;
    EXPECT_GT(cached_tokens(second), 16) << second.body;
    int replicas_used = 0;
    for (const auto& [id, replica] : stats()) {
      const uint64_t added = replica.requests - before[id];
      EXPECT_TRUE(added == 0 || added == 2) << id;
      replicas_used += added > 0;
    }
    EXPECT_EQ(replicas_used, 1);
  }
  // The sessions' homes spread over the replicas.
  int used = 0;
  for (const auto& [id, replica] : stats()) used += replica.requests > 0;
  EXPECT_GE(used, 2);
  EXPECT_EQ(route_->router->decisions()["affinity_home"], 18u);
}

TEST_F(RoutingTest, RoundRobinSpreadsEveryRequest) {
  router::RouterOptions options;
  options.policy = router::RoutingPolicy::kRoundRobin;
  start(3, options);
  for (int i = 0; i < 6; ++i) ASSERT_EQ(chat(conversation("rr", 1), "same-key").status, 200);
  for (const auto& [id, replica] : stats()) EXPECT_EQ(replica.requests, 2u) << id;
}

}  // namespace
}  // namespace tether::api
