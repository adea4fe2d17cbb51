#include "jobs/dispatcher.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <stdexcept>
#include <thread>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include "common/error.h"
#include "fake_job_store.h"

namespace tether::jobs {
namespace {

using namespace std::chrono_literals;
using store::ItemStatus;
using testing::FakeJobStore;

// What a fake item asks of the fake invoker, in its request:
//   {"statuses": [500, 200]}  the n-th run answers statuses[n] (the last one repeats)
//   {"hang": true}            runs until its watch is marked gone
//   {"throw": true}           the invocation throws
//   {"body": {...}}           the 2xx body (default: a chat completion with usage)
std::string default_success_body() {
  boost::json::object usage;
  usage["prompt_tokens"] = 11;
  usage["completion_tokens"] = 7;
  boost::json::object details;
  details["cached_tokens"] = 3;
  usage["prompt_tokens_details"] = details;
  boost::json::object body;
  body["object"] = "chat.completion";
  body["usage"] = usage;
  return boost::json::serialize(body);
}

std::string error_body(int status) {
  boost::json::object error;
  error["message"] = "boom " + std::to_string(status);
  boost::json::object body;
  body["error"] = error;
  return boost::json::serialize(body);
}

api::InvokeResult answer(const boost::json::object& request, int run) {
  api::InvokeResult result;
  result.status = 200;
  if (const auto* statuses = request.if_contains("statuses")) {
    const auto& list = statuses->as_array();
    result.status = static_cast<int>(list[std::min<size_t>(static_cast<size_t>(run), list.size() - 1)].as_int64());
  }
  if (result.status >= 200 && result.status < 300) {
    const auto* body = request.if_contains("body");
    result.body = body != nullptr ? boost::json::serialize(*body) : default_success_body();
  } else {
    result.body = error_body(result.status);
  }
  return result;
}

class FakeInvoker {
 public:
  Dispatcher::InvokeFn fn() {
    return [this](const store::Claim& claim, std::shared_ptr<http::ClientWatch> watch) {
      return run(claim, std::move(watch));
    };
  }
  int runs(const std::string& key) {
    std::lock_guard lock(mutex_);
    return runs_[key];
  }
  int active() {
    std::lock_guard lock(mutex_);
    return active_;
  }
  int max_active() {
    std::lock_guard lock(mutex_);
    return max_active_;
  }
  int cut_short() {
    std::lock_guard lock(mutex_);
    return cut_short_;
  }

 private:
  boost::asio::awaitable<api::InvokeResult> run(store::Claim claim, std::shared_ptr<http::ClientWatch> watch) {
    const boost::json::object request = boost::json::parse(claim.item.request).as_object();
    int run_idx = 0;
    {
      std::lock_guard lock(mutex_);
      run_idx = runs_[claim.item.job_id + "/" + std::to_string(claim.item.index)]++;
      max_active_ = std::max(max_active_, ++active_);
    }
    if (request.contains("throw")) {
      std::lock_guard lock(mutex_);
      --active_;
      throw std::runtime_error("the invocation broke");
    }
    if (request.contains("hang")) {
      auto timer = std::make_shared<boost::asio::steady_timer>(co_await boost::asio::this_coro::executor,
                                                               std::chrono::steady_clock::time_point::max());
      watch->add_listener([timer] { timer->cancel(); });
      co_await timer->async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
      std::lock_guard lock(mutex_);
      --active_;
      ++cut_short_;
      co_return api::InvokeResult{api::kInvocationCancelled, {}, error_body(api::kInvocationCancelled)};
    }
    api::InvokeResult result = answer(request, run_idx);
    std::lock_guard lock(mutex_);
    --active_;
    co_return result;
  }

  std::mutex mutex_;  // guards the counts
  std::map<std::string, int> runs_;
  int active_ = 0, max_active_ = 0, cut_short_ = 0;
};

class DispatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    io_thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    dispatcher_.reset();  // stops it
    guard_.reset();
    io_.stop();
    io_thread_.join();
  }

  static DispatcherOptions fast_options() {
    DispatcherOptions options;
    options.owner = "worker-a";
    options.poll_interval = 5ms;
    options.lease_ms = 30'000;
    options.renew_interval = 10ms;
    options.max_in_flight = 4;
    options.max_attempts = 3;
    options.housekeeping_interval = 10ms;
    options.retry_backoff = 5ms;
    return options;
  }

  void start(DispatcherOptions options = fast_options(), std::vector<DispatchModel> models = {{"m", {}}}) {
    dispatcher_ = std::make_unique<Dispatcher>(
        io_.get_executor(), pool_, store_, std::move(models), invoker_.fn(),
        [this](const std::string&, int32_t in_flight) {
          ++gate_calls_;
          if (!gate_open_) return false;
          const int limit = per_model_limit_.load();
          return limit == 0 || in_flight < limit;
        },
        std::move(options));
    dispatcher_->start();
  }

  template <class Pred>
  static bool wait_until(Pred done, std::chrono::milliseconds timeout = 10s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(1ms);
    }
    return true;
  }

  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_{io_.get_executor()};
  std::thread io_thread_;
  boost::asio::thread_pool pool_{2};
  FakeJobStore store_;
  FakeInvoker invoker_;
  std::atomic<bool> gate_open_{true};
  std::atomic<int> per_model_limit_{0};  // 0 = no limit from the gate
  std::atomic<int> gate_calls_{0};
  std::unique_ptr<Dispatcher> dispatcher_;
};

TEST_F(DispatcherTest, ClaimsNothingWhileTheGateIsClosedThenRunsOnceItOpens) {
  gate_open_ = false;
  const std::string job = store_.add_job("m", "/v1/chat/completions", {"{}", "{}"});
  start();
  ASSERT_TRUE(wait_until([&] { return gate_calls_ >= 5; }));
  EXPECT_EQ(store_.claim_calls(), 0);
  EXPECT_EQ(dispatcher_->stats().claimed, 0u);
  EXPECT_EQ(store_.count(job, ItemStatus::kQueued), 2);

  gate_open_ = true;
  dispatcher_->wake();
  ASSERT_TRUE(wait_until([&] { return store_.count(job, ItemStatus::kSucceeded) == 2; }));
  const store::Item item = store_.item(job, 1);
  EXPECT_EQ(item.http_status, 200);
  EXPECT_EQ(item.prompt_tokens, 11);
  EXPECT_EQ(item.completion_tokens, 7);
  EXPECT_EQ(item.cached_tokens, 3);
  EXPECT_EQ(boost::json::parse(item.result).at("object").as_string(), "chat.completion");
  ASSERT_TRUE(wait_until([&] { return dispatcher_->stats().in_flight == 0; }));
  const DispatcherStats stats = dispatcher_->stats();
  EXPECT_EQ(stats.claimed, 2u);
  EXPECT_EQ(stats.succeeded, 2u);
}

TEST_F(DispatcherTest, RunsAtMostMaxInFlightAtOnce) {
  DispatcherOptions options = fast_options();
  options.max_in_flight = 2;
  const std::string job = store_.add_job("m", "/v1/chat/completions",
                                         {R"({"hang":true})", R"({"hang":true})", R"({"hang":true})", "{}"});
  start(options);
  ASSERT_TRUE(wait_until([&] { return invoker_.active() == 2; }));
  // Full: the loop asks neither the gate nor the store for more; it renews.
  const int renewals = store_.renew_calls();
  ASSERT_TRUE(wait_until([&] { return store_.renew_calls() >= renewals + 3; }));
  EXPECT_EQ(store_.claim_calls(), 2);
  EXPECT_EQ(invoker_.max_active(), 2);
  EXPECT_EQ(dispatcher_->stats().claimed, 2u);
  EXPECT_EQ(dispatcher_->stats().in_flight, 2);
  EXPECT_EQ(store_.count(job, ItemStatus::kRunning), 2);
  EXPECT_EQ(store_.count(job, ItemStatus::kQueued), 2);
}

TEST_F(DispatcherTest, TheGateSeesEachModelsOwnInFlightCount) {
  per_model_limit_ = 1;
  const std::string a = store_.add_job("a", "/v1/chat/completions", {R"({"hang":true})", R"({"hang":true})"});
  const std::string b = store_.add_job("b-alias", "/v1/chat/completions", {R"({"hang":true})", R"({"hang":true})"});
  start(fast_options(), {{"a", {}}, {"b", {"b-alias"}}});
  ASSERT_TRUE(wait_until([&] { return invoker_.active() == 2; }));
  const int polls = gate_calls_;
  ASSERT_TRUE(wait_until([&] { return gate_calls_ >= polls + 5; }));
  // One of each model (b's job names it by its alias), though max_in_flight is 4.
  EXPECT_EQ(store_.count(a, ItemStatus::kRunning), 1);
  EXPECT_EQ(store_.count(b, ItemStatus::kRunning), 1);
  EXPECT_EQ(invoker_.max_active(), 2);
}

TEST_F(DispatcherTest, ResponsesMapToOutcomes) {
  const std::string job = store_.add_job(
      "m", "/v1/chat/completions",
      {R"({"statuses":[200]})", R"({"statuses":[400]})", R"({"statuses":[429,429,200]})",
       R"({"statuses":[500,200]})", R"({"statuses":[500]})", R"({"statuses":[503,404]})", R"({"throw":true})",
       R"({"body":{"result":{"response":"hi","usage":{"prompt_tokens":5,"completion_tokens":2}},"success":true}})"});
  start();
  ASSERT_TRUE(wait_until([&] {
    const store::Job status = *store_.get_job(job);
    return status.counts.succeeded + status.counts.failed == 8;
  }));
  // 2xx: succeeded with the body and its usage.
  EXPECT_EQ(store_.item(job, 0).status, ItemStatus::kSucceeded);
  EXPECT_EQ(store_.item(job, 0).completion_tokens, 7);
  // 4xx: failed at once, the error body kept.
  const store::Item bad = store_.item(job, 1);
  EXPECT_EQ(bad.status, ItemStatus::kFailed);
  EXPECT_EQ(bad.http_status, 400);
  EXPECT_EQ(boost::json::parse(bad.result).at("error").at("message").as_string(), "boom 400");
  EXPECT_NE(bad.error.find("boom 400"), std::string::npos) << bad.error;
  EXPECT_EQ(invoker_.runs(job + "/1"), 1);
  // 429 (twice) is load, not failure: released, then it ran to success.
  const store::Item full = store_.item(job, 2);
  EXPECT_EQ(full.status, ItemStatus::kSucceeded);
  EXPECT_EQ(invoker_.runs(job + "/2"), 3);
  EXPECT_EQ(full.attempts, 1);  // releases gave their attempts back
  // One 500, then success.
  EXPECT_EQ(store_.item(job, 3).status, ItemStatus::kSucceeded);
  EXPECT_EQ(invoker_.runs(job + "/3"), 2);
  // 500 every time: failed after max_attempts runs.
  const store::Item broken = store_.item(job, 4);
  EXPECT_EQ(broken.status, ItemStatus::kFailed);
  EXPECT_EQ(broken.http_status, 500);
  EXPECT_EQ(invoker_.runs(job + "/4"), 3);
  EXPECT_NE(broken.error.find("after 3 attempts"), std::string::npos) << broken.error;
  // 503 is load too; the 404 after it fails the item.
  EXPECT_EQ(store_.item(job, 5).status, ItemStatus::kFailed);
  EXPECT_EQ(store_.item(job, 5).http_status, 404);
  // An invocation that throws is a server error: retried, then failed.
  EXPECT_EQ(store_.item(job, 6).status, ItemStatus::kFailed);
  EXPECT_EQ(invoker_.runs(job + "/6"), 3);
  // Workers AI bodies carry usage inside result.
  EXPECT_EQ(store_.item(job, 7).status, ItemStatus::kSucceeded);
  EXPECT_EQ(store_.item(job, 7).prompt_tokens, 5);
  EXPECT_EQ(store_.item(job, 7).completion_tokens, 2);

  ASSERT_TRUE(wait_until([&] { return dispatcher_->stats().in_flight == 0; }));
  const DispatcherStats stats = dispatcher_->stats();
  EXPECT_EQ(stats.succeeded, 4u);
  EXPECT_EQ(stats.failed, 4u);
  EXPECT_EQ(stats.released, 2u + 1u + 2u + 1u + 2u);  // 429 x2, 500, 500 x2, 503, throw x2
  EXPECT_EQ(stats.claimed, stats.succeeded + stats.failed + stats.released);
}

TEST_F(DispatcherTest, ACancelledJobStopsItsRunningItem) {
  const std::string job = store_.add_job("m", "/v1/chat/completions", {R"({"hang":true})", "{}"});
  DispatcherOptions options = fast_options();
  options.max_in_flight = 1;
  start(options);
  ASSERT_TRUE(wait_until([&] { return invoker_.active() == 1; }));
  store_.cancel(job);  // the queued item is cancelled by the store; the running one by its worker
  ASSERT_TRUE(wait_until([&] { return store_.item(job, 0).status == ItemStatus::kCancelled; }));
  EXPECT_EQ(invoker_.cut_short(), 1);
  EXPECT_FALSE(store_.item(job, 0).error.empty());
  ASSERT_TRUE(wait_until([&] { return dispatcher_->stats().in_flight == 0; }));
  EXPECT_EQ(dispatcher_->stats().cancelled, 1u);
  EXPECT_EQ(store_.count(job, ItemStatus::kCancelled), 2);
  EXPECT_EQ(invoker_.runs(job + "/1"), 0);
}

TEST_F(DispatcherTest, ALostLeaseIsAbandonedWithoutWriting) {
  const std::string job = store_.add_job("m", "/v1/chat/completions", {R"({"hang":true})"});
  start();
  ASSERT_TRUE(wait_until([&] { return invoker_.active() == 1; }));
  store_.steal(job, 0, "worker-b");
  ASSERT_TRUE(wait_until([&] { return dispatcher_->stats().abandoned == 1; }));
  EXPECT_EQ(invoker_.cut_short(), 1);
  EXPECT_EQ(store_.complete_calls(), 0);
  EXPECT_EQ(store_.release_calls(), 0);
  const store::Item item = store_.item(job, 0);
  EXPECT_EQ(item.status, ItemStatus::kRunning);
  EXPECT_EQ(item.lease_owner, "worker-b");
  EXPECT_EQ(dispatcher_->stats().in_flight, 0);
}

TEST_F(DispatcherTest, StopReleasesRunningItemsAndClaimsNoMore) {
  const std::string job =
      store_.add_job("m", "/v1/chat/completions", {R"({"hang":true})", R"({"hang":true})", R"({"hang":true})"});
  start();
  ASSERT_TRUE(wait_until([&] { return invoker_.active() == 3; }));
  dispatcher_->stop();
  EXPECT_EQ(invoker_.cut_short(), 3);
  EXPECT_EQ(store_.count(job, ItemStatus::kQueued), 3);
  for (int idx = 0; idx < 3; ++idx) EXPECT_EQ(store_.item(job, idx).attempts, 0);  // a restart runs them afresh
  const DispatcherStats stats = dispatcher_->stats();
  EXPECT_EQ(stats.released, 3u);
  EXPECT_EQ(stats.in_flight, 0);
  // Stopped: new work stays queued.
  const std::string later = store_.add_job("m", "/v1/chat/completions", {"{}"});
  dispatcher_->wake();
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(store_.count(later, ItemStatus::kQueued), 1);
  EXPECT_EQ(dispatcher_->stats().claimed, 3u);
  dispatcher_->stop();  // again: nothing to do
}

TEST_F(DispatcherTest, HousekeepingRequeuesExpiredLeasesAndExpiresOverdueJobs) {
  const std::string orphan = store_.add_job("m", "/v1/chat/completions", {"{}"});
  // A crashed worker's claim whose lease ran out.
  ASSERT_EQ(store_.claim("crashed", {"m"}, 1, 1000).size(), 1u);
  store_.advance_ms(2000);
  const std::string overdue = store_.add_job("m", "/v1/chat/completions", {"{}"}, store_.now_ms() - 1);
  start();
  ASSERT_TRUE(wait_until([&] { return store_.item(orphan, 0).status == ItemStatus::kSucceeded; }));
  EXPECT_EQ(store_.item(orphan, 0).attempts, 2);  // the crashed run counts
  ASSERT_TRUE(wait_until([&] { return store_.item(overdue, 0).status == ItemStatus::kExpired; }));
  EXPECT_EQ(invoker_.runs(overdue + "/0"), 0);
}

TEST_F(DispatcherTest, RejectsBadOptions) {
  const auto make = [&](DispatcherOptions options, std::vector<DispatchModel> models) {
    Dispatcher dispatcher(io_.get_executor(), pool_, store_, std::move(models), invoker_.fn(),
                          [](const std::string&, int32_t) { return true; }, std::move(options));
  };
  EXPECT_NO_THROW(make(fast_options(), {{"m", {}}}));  // destroyed unstarted
  DispatcherOptions no_owner = fast_options();
  no_owner.owner.clear();
  EXPECT_THROW(make(no_owner, {{"m", {}}}), Error);
  EXPECT_THROW(make(fast_options(), {}), Error);
  DispatcherOptions no_room = fast_options();
  no_room.max_in_flight = 0;
  EXPECT_THROW(make(no_room, {{"m", {}}}), Error);
  DispatcherOptions no_lease = fast_options();
  no_lease.lease_ms = 0;
  EXPECT_THROW(make(no_lease, {{"m", {}}}), Error);
}

}  // namespace
}  // namespace tether::jobs
