// The async API through the real `tether serve` on SQLite: a kill -9 in the
// middle of a backlog and a restart end every item exactly once; SIGTERM
// hands running items back to the queue and exits 0 promptly.

#include <signal.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include "async_serve.h"
#include "store/job_store.h"

namespace tether::testing {
namespace {

using namespace std::chrono_literals;
namespace json = boost::json;

std::string item_key(const store::Item& item) { return item.job_id + "/" + std::to_string(item.index); }

// Every item of these jobs, read from the store.
std::vector<store::Item> all_items(store::JobStore& store, const std::vector<std::string>& job_ids) {
  std::vector<store::Item> items;
  for (const std::string& id : job_ids) {
    for (store::Item& item : store.get_items(id)) items.push_back(std::move(item));
  }
  return items;
}

int count_status(const std::vector<store::Item>& items, store::ItemStatus status) {
  int count = 0;
  for (const store::Item& item : items) count += item.status == status ? 1 : 0;
  return count;
}

bool all_terminal(store::JobStore& store, const std::vector<std::string>& job_ids) {
  for (const std::string& id : job_ids) {
    const std::optional<store::Job> job = store.get_job(id);
    if (!job || !store::is_terminal(job->status)) return false;
  }
  return true;
}

class AsyncServeCrashTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = make_temp_dir("async_serve_crash");
    store_url_ = "sqlite:" + (dir_ / "jobs.db").string();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::filesystem::path write_config(int max_in_flight, int64_t lease_ms) {
    const std::filesystem::path path = dir_ / "serve.yaml";
    write_text_file(path, async_serve_config_head() + "async:\n  store: " + store_url_ +
                              "\n  max_in_flight: " + std::to_string(max_in_flight) +
                              "\n  lease_ms: " + std::to_string(lease_ms) + "\n  poll_interval_ms: 50\n");
    return path;
  }

  // One x-tether-async chat request; its job id.
  std::string submit_single(uint16_t port, int tokens, int n, const std::string& key) {
    const RawResponse response =
        http_call(port, post_request("/v1/chat/completions", chat_body(tokens, "single " + std::to_string(n)),
                                     "x-tether-async: true\r\nIdempotency-Key: " + key + "\r\n"));
    EXPECT_EQ(response.status, 202) << response.body;
    return std::string(json_of(response).at("id").as_string());
  }

  std::filesystem::path dir_;
  std::string store_url_;
};

TEST_F(AsyncServeCrashTest, KillNineMidRunAndRestartEndEveryItemExactlyOnce) {
  constexpr int kTokens = 1200;
  constexpr int kSingles = 20;
  constexpr int kBatchItems = 4;
  constexpr int kItems = kSingles + kBatchItems;
  const std::filesystem::path config = write_config(3, 1500);
  auto first = std::make_unique<ServeChild>(config, dir_ / "serve-1.log");
  const uint16_t port = first->wait_ready();
  ASSERT_NE(port, 0) << first->log();

  std::vector<std::string> job_ids;
  std::vector<std::string> single_ids;
  std::string batch_id;
  for (int i = 0; i < kSingles; ++i) {
    if (i == kSingles / 2) {
      // A Workers AI batch in the middle of the singles.
      std::string requests;
      for (int r = 0; r < kBatchItems; ++r) {
        if (!requests.empty()) requests += ",";
        requests += r % 2 == 0 ? R"({"prompt": "batch )" + std::to_string(r) + R"(", "max_tokens": )" +
                                     std::to_string(kTokens) + R"(, "ignore_eos": true, "external_reference": "r)" +
                                     std::to_string(r) + "\"}"
                               : R"({"messages": [{"role": "user", "content": "batch )" + std::to_string(r) +
                                     R"("}], "max_tokens": )" + std::to_string(kTokens) + R"(, "ignore_eos": true})";
      }
      const RawResponse response =
          http_call(port, post_request("/ai/run/tiny?queueRequest=true", R"({"requests": [)" + requests + "]}"));
      ASSERT_EQ(response.status, 200) << response.body;
      const json::value answer = json_of(response);
      const json::object& result = answer.at("result").as_object();
      EXPECT_EQ(result.at("status").as_string(), "queued");
      batch_id = std::string(result.at("request_id").as_string());
      job_ids.push_back(batch_id);
    }
    single_ids.push_back(submit_single(port, kTokens, i, "crash-" + std::to_string(i)));
    job_ids.push_back(single_ids.back());
  }
  ASSERT_EQ(job_ids.size(), static_cast<size_t>(kSingles + 1));

  // The test reads the store beside the server (SQLite in WAL mode).
  std::unique_ptr<store::JobStore> store = store::open_job_store(store_url_);
  ASSERT_TRUE(wait_until(
      [&] {
        const std::vector<store::Item> items = all_items(*store, job_ids);
        return count_status(items, store::ItemStatus::kSucceeded) >= 3 &&
               count_status(items, store::ItemStatus::kRunning) >= 2;
      },
      60s, 20ms))
      << first->log();
  first->kill_hard();
  first.reset();

  // What the dead server left: every submitted item, some finished, some
  // running (their leases will expire).
  const std::vector<store::Item> at_kill = all_items(*store, job_ids);
  ASSERT_EQ(at_kill.size(), static_cast<size_t>(kItems));
  std::set<std::string> running_at_kill;
  for (const store::Item& item : at_kill) {
    if (item.status == store::ItemStatus::kRunning) running_at_kill.insert(item_key(item));
  }
  const int succeeded_at_kill = count_status(at_kill, store::ItemStatus::kSucceeded);
  EXPECT_GE(succeeded_at_kill, 3);
  EXPECT_LT(succeeded_at_kill, kItems);
  EXPECT_FALSE(running_at_kill.empty());

  ServeChild second(config, dir_ / "serve-2.log");
  const uint16_t port2 = second.wait_ready();
  ASSERT_NE(port2, 0) << second.log();
  // A resubmission with a key used before the crash answers the first job.
  const RawResponse again = http_call(
      port2, post_request("/v1/chat/completions", chat_body(kTokens, "single 5"),
                          "x-tether-async: true\r\nIdempotency-Key: crash-5\r\n"));
  EXPECT_EQ(again.status, 202) << again.body;
  EXPECT_EQ(again.header("idempotent-replayed"), "true");
  EXPECT_EQ(json_of(again).at("id").as_string(), single_ids[5]);

  ASSERT_TRUE(wait_until([&] { return all_terminal(*store, job_ids); }, 60s, 100ms)) << second.log();
  // The second process ran exactly what the first left unfinished.
  EXPECT_EQ(async_items(port2, "succeeded"), kItems - succeeded_at_kill);
  EXPECT_EQ(async_items(port2, "failed"), 0);
  EXPECT_EQ(async_items(port2, "abandoned"), 0);
  EXPECT_EQ(metric_value(port2, "tether_async_in_flight"), 0);
  second.signal(SIGTERM);
  EXPECT_EQ(second.wait_exit(15s), 0) << second.log();

  // Nothing lost, nothing duplicated: exactly the submitted jobs, each
  // item succeeded once with one result.
  store::JobFilter everything;
  everything.limit = 1000;
  std::set<std::string> listed;
  for (const store::Job& job : store->list_jobs(everything)) listed.insert(job.id);
  EXPECT_EQ(listed, std::set<std::string>(job_ids.begin(), job_ids.end()));
  for (const std::string& id : job_ids) {
    const std::optional<store::Job> job = store->get_job(id);
    ASSERT_TRUE(job);
    const int32_t items = id == batch_id ? kBatchItems : 1;
    EXPECT_EQ(job->status, store::JobStatus::kSucceeded) << id;
    EXPECT_EQ(job->counts.total, items) << id;
    EXPECT_EQ(job->counts.succeeded, items) << id;
    EXPECT_EQ(job->counts.running + job->counts.queued + job->counts.failed, 0) << id;
    // Usage sums over finished items: an item completed twice would count twice.
    EXPECT_EQ(job->completion_tokens, int64_t{items} * kTokens) << id;
  }
  const std::vector<store::Item> final_items = all_items(*store, job_ids);
  ASSERT_EQ(final_items.size(), static_cast<size_t>(kItems));
  for (const store::Item& item : final_items) {
    SCOPED_TRACE(item_key(item));
    EXPECT_EQ(item.status, store::ItemStatus::kSucceeded);
    EXPECT_EQ(item.http_status, 200);
    ASSERT_FALSE(item.result.empty());
    EXPECT_NO_THROW(json::parse(item.result));
    EXPECT_EQ(item.completion_tokens, kTokens);
    EXPECT_TRUE(item.lease_owner.empty());
    // A run lost in the crash counts as an attempt.
    EXPECT_EQ(item.attempts, running_at_kill.count(item_key(item)) ? 2 : 1);
  }

  // `tether jobs list` on the same store agrees.
  const CliResult listed_cli = run_tether("jobs list --json --limit 100 --store '" + store_url_ + "'", "2>&1");
  ASSERT_EQ(listed_cli.exit_code, 0) << listed_cli.output;
  const json::array cli_jobs = json::parse(listed_cli.output).as_array();
  EXPECT_EQ(cli_jobs.size(), job_ids.size());
  for (const json::value& job : cli_jobs) EXPECT_EQ(job.at("status").as_string(), "succeeded");
}

TEST_F(AsyncServeCrashTest, SigtermGivesRunningItemsBackAndARestartFinishesThem) {
  constexpr int kTokens = 4000;
  constexpr int kJobs = 4;
  // A long lease: the items must come back by release, not by expiry.
  const std::filesystem::path config = write_config(2, 60'000);
  std::vector<std::string> job_ids;
  auto first = std::make_unique<ServeChild>(config, dir_ / "serve-1.log");
  const uint16_t port = first->wait_ready();
  ASSERT_NE(port, 0) << first->log();
  for (int i = 0; i < kJobs; ++i) job_ids.push_back(submit_single(port, kTokens, i, "stop-" + std::to_string(i)));

  std::unique_ptr<store::JobStore> store = store::open_job_store(store_url_);
  ASSERT_TRUE(wait_until(
      [&] { return count_status(all_items(*store, job_ids), store::ItemStatus::kRunning) == 2; }, 60s, 10ms))
      << first->log();
  std::set<std::string> running;
  for (const store::Item& item : all_items(*store, job_ids)) {
    if (item.status == store::ItemStatus::kRunning) running.insert(item_key(item));
  }
  const auto signalled = std::chrono::steady_clock::now();
  first->signal(SIGTERM);
  EXPECT_EQ(first->wait_exit(15s), 0) << first->log();
  EXPECT_LT(std::chrono::steady_clock::now() - signalled, 3s);
  first.reset();

  // Nothing is left running; what ran is queued again with its attempt
  // given back (unless it finished just before the signal took effect).
  int given_back = 0;
  for (const store::Item& item : all_items(*store, job_ids)) {
    SCOPED_TRACE(item_key(item));
    EXPECT_NE(item.status, store::ItemStatus::kRunning);
    if (item.status == store::ItemStatus::kQueued) {
      EXPECT_EQ(item.attempts, 0);
      EXPECT_TRUE(item.lease_owner.empty());
      given_back += running.count(item_key(item)) ? 1 : 0;
    } else {
      EXPECT_EQ(item.status, store::ItemStatus::kSucceeded);
    }
  }
  EXPECT_GE(given_back, 1);

  ServeChild second(config, dir_ / "serve-2.log");
  const uint16_t port2 = second.wait_ready();
  ASSERT_NE(port2, 0) << second.log();
  ASSERT_TRUE(wait_until([&] { return all_terminal(*store, job_ids); }, 60s, 100ms)) << second.log();
  second.signal(SIGTERM);
  EXPECT_EQ(second.wait_exit(15s), 0) << second.log();
  for (const store::Item& item : all_items(*store, job_ids)) {
    SCOPED_TRACE(item_key(item));
    EXPECT_EQ(item.status, store::ItemStatus::kSucceeded);
    EXPECT_EQ(item.attempts, 1);
    EXPECT_EQ(item.completion_tokens, kTokens);
  }
}

}  // namespace
}  // namespace tether::testing
