// The API service over a route of several replicas: local engine replicas
// behind the router (affinity keeps a session and its cache together, round
// robin spreads), and upstreams that fail: a request that fails before its
// first byte goes to the next replica, one that began streaming does not.

#include <chrono>
#include <map>
#include <string>
#include <thread>

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include "../http/test_server.h"
#include "../router/fake_upstreams.h"
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
  void start(int32_t replicas, router::RouterOptions options,
             std::vector<std::shared_ptr<router::Upstream>> upstreams = {}) {
    served_ = make_served_model(sched::testing::tiny_model_file(), "tiny", {}, small_engine(), replicas);
    route_ = make_model_route(served_, std::move(upstreams), options);
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

router::UpstreamOptions upstream_at(const std::string& id, uint16_t port) {
  router::UpstreamOptions options;
  options.id = id;
  options.url = "http://127.0.0.1:" + std::to_string(port);
  options.connect_timeout = 500ms;
  options.response_timeout = 500ms;
  options.idle_timeout = 500ms;
  return options;
}

TEST_F(RoutingTest, DeadAndHangingUpstreamsFailOverToTheNextReplica) {
  // An upstream that accepts and never answers.
  TestServer hanging;
  hanging.router().add("POST", "/v1/chat/completions",
                       [](http::Exchange& exchange) { return testing::hang_until_client_gone(exchange); });
  hanging.start();
  router::RouterOptions options;
  options.eject_after_failures = 2;
  start(1, options,
        {std::make_shared<router::Upstream>(upstream_at("dead", testing::closed_port())),
         std::make_shared<router::Upstream>(upstream_at("hanging", hanging.port()))});
  const std::vector<std::string> ids = {"local-0", "dead", "hanging"};

  for (const std::string& bad : {std::string("dead"), std::string("hanging")}) {
    const std::string key = testing::key_preferring(ids, bad);
    ASSERT_FALSE(key.empty());
    const auto began = std::chrono::steady_clock::now();
    RawResponse response = chat(conversation("failover", 1), key);
    EXPECT_EQ(response.status, 200) << bad << ": " << response.body;
    EXPECT_LT(std::chrono::steady_clock::now() - began, 10s);
    EXPECT_GE(stats()[bad].failures, 1u) << bad;
  }
  EXPECT_GE(stats()["dead"].errors["connect"], 1u);
  EXPECT_GE(stats()["hanging"].errors["timeout"], 1u);
  EXPECT_GE(route_->router->decisions()["retry"], 2u);

  // Two consecutive failures eject the dead upstream: later requests skip it.
  const std::string key = testing::key_preferring(ids, "dead");
  for (int i = 0; i < 2 && stats()["dead"].healthy; ++i) EXPECT_EQ(chat(conversation("failover", 1), key).status, 200);
  EXPECT_FALSE(stats()["dead"].healthy);
  EXPECT_EQ(stats()["dead"].failures, 2u);
  const uint64_t failures = stats()["dead"].failures;
  EXPECT_EQ(chat(conversation("failover", 1), key).status, 200);
  EXPECT_EQ(stats()["dead"].failures, failures);
}

TEST_F(RoutingTest, AStreamThatDiesMidwayIsNotRetried) {
  TestServer dying;
  dying.router().add("POST", "/v1/chat/completions", testing::die_mid_stream);
  dying.start();
  start(1, router::RouterOptions{}, {std::make_shared<router::Upstream>(upstream_at("dying", dying.port()))});
  const std::string key = testing::key_preferring({"local-0", "dying"}, "dying");
  RawResponse response = chat(conversation("stream", 1), key, true);
  EXPECT_NE(response.body.find("partial"), std::string::npos) << response.body;
  EXPECT_EQ(response.body.find("[DONE]"), std::string::npos) << response.body;
  EXPECT_EQ(stats()["local-0"].requests, 0u);
  EXPECT_EQ(route_->router->decisions()["retry"], 0u);
}

TEST_F(RoutingTest, AnUpstreamAnswersWhenItIsTheHome) {
  // The upstream is another API service over the tiny model (as another
  // `tether serve` would be), reached through HTTP.
  auto other = make_served_model(sched::testing::tiny_model_file(), "tiny", {}, small_engine(), 1);
  ApiService other_service({other}, nullptr);
  TestServer other_server;
  other_service.register_routes(other_server.router());
  other_server.start();
  start(1, router::RouterOptions{}, {std::make_shared<router::Upstream>(upstream_at("remote", other_server.port()))});
  const std::string key = testing::key_preferring({"local-0", "remote"}, "remote");
  RawResponse whole = chat(conversation("remote", 1), key);
  ASSERT_EQ(whole.status, 200) << whole.body;
  EXPECT_EQ(boost::json::parse(whole.body).at("object").as_string(), "chat.completion");
  RawResponse streamed = chat(conversation("remote", 2), key, true);
  ASSERT_EQ(streamed.status, 200) << streamed.body;
  EXPECT_EQ(streamed.header("content-type"), "text/event-stream");
  EXPECT_NE(streamed.body.find("data: [DONE]"), std::string::npos);
  EXPECT_EQ(stats()["remote"].requests, 2u);
  EXPECT_EQ(stats()["local-0"].requests, 0u);
  // The engine publishes its counts after the step that answered.
  for (int i = 0; i < 200 && other->engines[0]->stats().completed < 2; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(other->engines[0]->stats().completed, 2u);
}

}  // namespace
}  // namespace tether::api
