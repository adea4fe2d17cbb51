// The dispatcher end to end: job items run through the API's routes in
// process (LocalInvoker) on a real tiny-model engine, at async priority.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include "../sched/engine_test_support.h"
#include "api/api_service.h"
#include "api/local_invoker.h"
#include "fake_job_store.h"
#include "jobs/dispatcher.h"
#include "jobs/item_invocation.h"

namespace tether::jobs {
namespace {

using namespace std::chrono_literals;
using store::ItemStatus;

TEST(DispatcherEngineTest, JobsRunThroughTheApiAtAsyncPriority) {
  boost::asio::io_context io;
  auto guard = boost::asio::make_work_guard(io);
  std::thread io_thread([&io] { io.run(); });
  boost::asio::thread_pool pool(1);
  testing::FakeJobStore store;

  sched::EngineOptions engine_options;
  engine_options.threads = 1;
  engine_options.kv_memory_bytes = size_t{16} << 20;
  auto served = api::make_served_model(sched::testing::tiny_model_file(), "tiny", {"@cf/test/tiny"}, engine_options);
  api::ApiService service({served}, nullptr);
  http::Router router;
  service.register_routes(router);
  api::LocalInvoker invoker(router);
  const sched::Engine& engine = *served->engines[0];

  const std::string chat = store.add_job(
      "tiny", "/v1/chat/completions",
      {R"({"model": "tiny", "max_tokens": 6, "messages": [{"role": "user", "content": "Hello"}]})",
       // stream is forced off: the item's result is a whole body.
       R"({"model": "tiny", "max_tokens": 4, "stream": true, "messages": [{"role": "user", "content": "Hi"}]})",
       R"({"model": "tiny", "max_tokens": 300, "ignore_eos": true, "messages": [{"role": "user", "content": "Go"}]})",
       R"({"model": "tiny", "messages": "not a list"})"});
  const std::string workers = store.add_job("@cf/test/tiny", "/ai/run", {R"({"prompt": "Once", "max_tokens": 5})"});

  DispatcherOptions options;
  options.owner = "worker-1";
  options.poll_interval = 5ms;
  options.renew_interval = 20ms;
  options.housekeeping_interval = 20ms;
  std::atomic<int32_t> most_in_flight{0};
  // Headroom: no interactive request waits and at most two async items run.
  auto gate = [&engine, &most_in_flight](const std::string&, int32_t in_flight) {
    const sched::EngineStats stats = engine.stats();
    const bool open = stats.waiting - stats.waiting_async == 0 && in_flight < 2;
    if (open) most_in_flight = std::max(most_in_flight.load(), in_flight + 1);
    return open;
  };
  Dispatcher dispatcher(io.get_executor(), pool, store, {{"tiny", {"@cf/test/tiny"}}}, local_invoke_fn(invoker), gate,
                        options);
  dispatcher.start();

  int running_async_seen = 0, running_interactive_seen = 0;
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < deadline) {
    const sched::EngineStats stats = engine.stats();
    running_async_seen = std::max(running_async_seen, stats.running_async);
    running_interactive_seen = std::max(running_interactive_seen, stats.running - stats.running_async);
    const auto finished = [&](const std::string& job) {
      const store::Job status = *store.get_job(job);
      return status.counts.succeeded + status.counts.failed == status.counts.total;
    };
    if (finished(chat) && finished(workers)) break;
    std::this_thread::sleep_for(1ms);
  }
  dispatcher.stop();

  EXPECT_GE(running_async_seen, 1);
  EXPECT_EQ(running_interactive_seen, 0);  // every item ran as async
  EXPECT_LE(most_in_flight.load(), 2);
  const store::Item first = store.item(chat, 0);
  ASSERT_EQ(first.status, ItemStatus::kSucceeded) << first.error;
  auto body = boost::json::parse(first.result);
  EXPECT_EQ(body.at("object").as_string(), "chat.completion");
  EXPECT_EQ(first.completion_tokens, 6);
  EXPECT_EQ(first.prompt_tokens, body.at("usage").at("prompt_tokens").as_int64());
  EXPECT_GT(first.prompt_tokens, 0);
  const store::Item streamed = store.item(chat, 1);
  ASSERT_EQ(streamed.status, ItemStatus::kSucceeded) << streamed.error;
  EXPECT_EQ(boost::json::parse(streamed.result).at("object").as_string(), "chat.completion");
  EXPECT_EQ(store.item(chat, 2).status, ItemStatus::kSucceeded);
  EXPECT_EQ(store.item(chat, 2).completion_tokens, 300);
  const store::Item invalid = store.item(chat, 3);
  EXPECT_EQ(invalid.status, ItemStatus::kFailed);
  EXPECT_EQ(invalid.http_status, 400);
  const store::Item workers_item = store.item(workers, 0);
  ASSERT_EQ(workers_item.status, ItemStatus::kSucceeded) << workers_item.error;
  EXPECT_TRUE(boost::json::parse(workers_item.result).at("success").as_bool());
  EXPECT_EQ(workers_item.completion_tokens, 5);
  EXPECT_EQ(dispatcher.stats().succeeded, 4u);
  EXPECT_EQ(dispatcher.stats().failed, 1u);
  // Stats are published after the step that finished the request.
  const auto settle_deadline = std::chrono::steady_clock::now() + 10s;
  while (engine.stats().completed < 4 && std::chrono::steady_clock::now() < settle_deadline) {
    std::this_thread::sleep_for(1ms);
  }
  EXPECT_EQ(engine.stats().completed, 4u);

  guard.reset();
  io_thread.join();
}

}  // namespace
}  // namespace tether::jobs
