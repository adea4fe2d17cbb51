// Two `tether serve` gateways, each with its own local engine, on one
// PostgreSQL queue (the private test server of store/pg_test_server.h):
// every item runs exactly once, and a job is visible on either gateway.

#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include "async_serve.h"
#include "store/job_store.h"
#include "store/pg_test_server.h"

namespace tether::testing {
namespace {

using namespace std::chrono_literals;
namespace json = boost::json;

class AsyncServePgTest : public ::testing::Test {
 protected:
  void SetUp() override {
    PgTestServer* server = PgTestServer::shared();
    if (server == nullptr) GTEST_SKIP() << PgTestServer::unavailable_reason();
    url_ = server->create_database();
    dir_ = make_temp_dir("async_serve_pg");
  }
  void TearDown() override {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  std::filesystem::path write_config(const std::string& worker, int64_t lease_ms = 10'000) {
    const std::filesystem::path path = dir_ / (worker + ".yaml");
    write_text_file(path, async_serve_config_head() + "async:\n  store: \"" + url_ + "\"\n  worker_id: " + worker +
                              "\n  max_in_flight: 3\n  lease_ms: " + std::to_string(lease_ms) +
                              "\n  poll_interval_ms: 50\n");
    return path;
  }

  bool all_terminal(store::JobStore& store, const std::vector<std::string>& job_ids) {
    for (const std::string& id : job_ids) {
      const std::optional<store::Job> job = store.get_job(id);
      if (!job || !store::is_terminal(job->status)) return false;
    }
    return true;
  }

  std::string url_;
  std::filesystem::path dir_;
};

std::string single_on(uint16_t port, int tokens, int n) {
  const RawResponse response = http_call(
      port, post_request("/v1/chat/completions", chat_body(tokens, "pg " + std::to_string(n)), "x-tether-async: true\r\n"));
  EXPECT_EQ(response.status, 202) << response.body;
  return std::string(json_of(response).at("id").as_string());
}

std::string workers_ai_batch_on(uint16_t port, int tokens, int items) {
  std::string requests;
  for (int r = 0; r < items; ++r) {
    if (!requests.empty()) requests += ",";
    requests += R"({"prompt": "pg batch )" + std::to_string(r) + R"(", "max_tokens": )" + std::to_string(tokens) +
                R"(, "ignore_eos": true})";
  }
  const RawResponse response =
      http_call(port, post_request("/ai/run/tiny?queueRequest=true", R"({"requests": [)" + requests + "]}"));
  EXPECT_EQ(response.status, 200) << response.body;
  const json::value answer = json_of(response);
  return std::string(answer.at("result").at("request_id").as_string());
}

TEST_F(AsyncServePgTest, TwoGatewaysOnOneQueueRunEveryItemOnce) {
  constexpr int kTokens = 300;
  constexpr int kSinglesEach = 15;
  constexpr int kBatchItems = 5;
  constexpr int kItems = 2 * (kSinglesEach + kBatchItems);
  ServeChild a(write_config("gw-a"), dir_ / "gw-a.log");
  ServeChild b(write_config("gw-b"), dir_ / "gw-b.log");
  const uint16_t port_a = a.wait_ready();
  ASSERT_NE(port_a, 0) << a.log();
  const uint16_t port_b = b.wait_ready();
  ASSERT_NE(port_b, 0) << b.log();

  // Submissions alternate between the gateways.
  std::vector<std::string> job_ids;
  std::vector<int> items_of;
  for (int i = 0; i < kSinglesEach; ++i) {
    for (uint16_t port : {port_a, port_b}) {
      if (i == kSinglesEach / 2) {
        job_ids.push_back(workers_ai_batch_on(port, kTokens, kBatchItems));
        items_of.push_back(kBatchItems);
      }
      job_ids.push_back(single_on(port, kTokens, i));
      items_of.push_back(1);
    }
  }
  ASSERT_FALSE(HasFailure());

  // A job submitted to A is polled on B, in either API.
  const RawResponse polled = http_call(port_b, get_request("/v1/jobs/" + job_ids[0]));
  ASSERT_EQ(polled.status, 200) << polled.body;
  EXPECT_EQ(json_of(polled).at("id").as_string(), job_ids[0]);
  const std::string batch_of_a = job_ids[2 * (kSinglesEach / 2)];
  const RawResponse batch_polled =
      http_call(port_b, post_request("/ai/run/tiny", R"({"request_id": ")" + batch_of_a + "\"}"));
  ASSERT_EQ(batch_polled.status, 200) << batch_polled.body;
  EXPECT_EQ(json_of(batch_polled).at("result").at("request_id").as_string(), batch_of_a);

  std::unique_ptr<store::JobStore> store = store::open_job_store(url_);
  ASSERT_TRUE(wait_until([&] { return all_terminal(*store, job_ids); }, 60s, 100ms)) << a.log() << b.log();

  // Between them the gateways ran each item once.
  const double succeeded_a = async_items(port_a, "succeeded");
  const double succeeded_b = async_items(port_b, "succeeded");
  std::fprintf(stderr, "gateway A ran %.0f items, gateway B %.0f\n", succeeded_a, succeeded_b);
  EXPECT_EQ(succeeded_a + succeeded_b, kItems);
  EXPECT_EQ(async_items(port_a, "claimed") - async_items(port_a, "released") + async_items(port_b, "claimed") -
                async_items(port_b, "released"),
            kItems);
  for (uint16_t port : {port_a, port_b}) {
    EXPECT_EQ(async_items(port, "failed"), 0);
    EXPECT_EQ(async_items(port, "abandoned"), 0);
    EXPECT_EQ(async_items(port, "cancelled"), 0);
  }
  a.signal(SIGTERM);
  b.signal(SIGTERM);
  EXPECT_EQ(a.wait_exit(15s), 0) << a.log();
  EXPECT_EQ(b.wait_exit(15s), 0) << b.log();

  int items_seen = 0;
  for (size_t j = 0; j < job_ids.size(); ++j) {
    SCOPED_TRACE(job_ids[j]);
    const std::optional<store::Job> job = store->get_job(job_ids[j]);
    ASSERT_TRUE(job);
    EXPECT_EQ(job->status, store::JobStatus::kSucceeded);
    EXPECT_EQ(job->counts.succeeded, items_of[j]);
    EXPECT_EQ(job->completion_tokens, int64_t{items_of[j]} * kTokens);
    const std::vector<store::Item> items = store->get_items(job_ids[j]);
    ASSERT_EQ(items.size(), static_cast<size_t>(items_of[j]));
    for (const store::Item& item : items) {
      ++items_seen;
      EXPECT_EQ(item.status, store::ItemStatus::kSucceeded);
      EXPECT_EQ(item.attempts, 1) << "item " << item.index << " ran more than once";
      EXPECT_EQ(item.http_status, 200);
      EXPECT_FALSE(item.result.empty());
      EXPECT_EQ(item.completion_tokens, kTokens);
    }
  }
  EXPECT_EQ(items_seen, kItems);
}

// One gateway dies (kill -9) with items running: once their leases expire
// the other gateway runs them, and everything ends exactly once.
TEST_F(AsyncServePgTest, AGatewayKilledMidRunLeavesItsItemsToTheOther) {
  constexpr int kTokens = 1500;
  constexpr int kJobs = 16;
  auto a = std::make_unique<ServeChild>(write_config("gw-a", 1500), dir_ / "gw-a.log");
  const uint16_t port_a = a->wait_ready();
  ASSERT_NE(port_a, 0) << a->log();
  std::vector<std::string> job_ids;
  for (int i = 0; i < kJobs; ++i) job_ids.push_back(single_on(port_a, kTokens, i));

  std::unique_ptr<store::JobStore> store = store::open_job_store(url_);
  auto running_on_a = [&] {
    std::vector<std::string> running;
    for (const std::string& id : job_ids) {
      for (const store::Item& item : store->get_items(id)) {
        if (item.status == store::ItemStatus::kRunning) running.push_back(id);
      }
    }
    return running;
  };
  ASSERT_TRUE(wait_until([&] { return running_on_a().size() >= 2; }, 60s, 20ms)) << a->log();
  a->kill_hard();
  a.reset();
  const std::vector<std::string> lost = running_on_a();
  ASSERT_FALSE(lost.empty());
  int succeeded_on_a = 0;
  for (const std::string& id : job_ids) succeeded_on_a += store->get_job(id)->counts.succeeded;

  ServeChild b(write_config("gw-b", 1500), dir_ / "gw-b.log");
  const uint16_t port_b = b.wait_ready();
  ASSERT_NE(port_b, 0) << b.log();
  ASSERT_TRUE(wait_until([&] { return all_terminal(*store, job_ids); }, 60s, 100ms)) << b.log();
  for (const std::string& id : job_ids) {
    SCOPED_TRACE(id);
    const std::vector<store::Item> items = store->get_items(id);
    ASSERT_EQ(items.size(), 1u);
    const bool was_lost = std::find(lost.begin(), lost.end(), id) != lost.end();
    EXPECT_EQ(items[0].status, store::ItemStatus::kSucceeded);
    EXPECT_EQ(items[0].attempts, was_lost ? 2 : 1);
    EXPECT_EQ(items[0].completion_tokens, kTokens);
    EXPECT_EQ(store->get_job(id)->completion_tokens, kTokens);
  }
  EXPECT_EQ(async_items(port_b, "succeeded"), kJobs - succeeded_on_a);
  EXPECT_EQ(async_items(port_b, "abandoned"), 0);
  b.signal(SIGTERM);
  EXPECT_EQ(b.wait_exit(15s), 0) << b.log();
}

}  // namespace
}  // namespace tether::testing
