#include "api/local_invoker.h"

#include <chrono>
#include <future>
#include <stdexcept>
#include <thread>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include "../sched/engine_test_support.h"
#include "api/api_service.h"
#include "common/error.h"

namespace tether::api {
namespace {

using namespace std::chrono_literals;

constexpr const char* kChat =
    R"({"model": "tiny", "max_tokens": 5, "temperature": 0,
        "messages": [{"role": "user", "content": "Hello there"}]})";

// (GCC 12 cannot take a list of string literals inside a coroutine.)
std::vector<std::string> stream_pieces() { return {"ab", "c", "def"}; }
http::HeaderList extra_headers() { return {{"x-extra", "1"}}; }

// The API's routes over the tiny model plus a few test routes, invoked in
// process on one io_context run by the test's thread.
class LocalInvokerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sched::EngineOptions options;
    options.threads = 1;
    options.kv_memory_bytes = size_t{16} << 20;
    served_ = make_served_model(sched::testing::tiny_model_file(), "tiny", {"@cf/test/tiny"}, options);
    service_ = std::make_unique<ApiService>(std::vector<std::shared_ptr<ServedModel>>{served_}, nullptr);
    service_->register_routes(router_);
    router_.add("POST", "/test/stream", [](http::Exchange& exchange) -> boost::asio::awaitable<void> {
      co_await exchange.start_stream(200, "text/plain", extra_headers());
      for (const std::string& piece : stream_pieces()) co_await exchange.write(piece);
      co_await exchange.finish();
    });
    router_.add("POST", "/test/throw", [](http::Exchange&) -> boost::asio::awaitable<void> {
      throw_error(ErrorCode::kInvalidArgument, "bad thing");
      co_return;
    });
    router_.add("POST", "/test/throw-mid-stream", [](http::Exchange& exchange) -> boost::asio::awaitable<void> {
      co_await exchange.start_stream(200, "text/plain");
      co_await exchange.write("partial");
      throw std::runtime_error("died");
    });
    router_.add("POST", "/test/silent", [](http::Exchange&) -> boost::asio::awaitable<void> { co_return; });
  }

  InvokeResult invoke(std::string method, std::string target, std::string body, http::HeaderList headers = {}) {
    auto future = boost::asio::co_spawn(
        io_, invoker_.invoke(std::move(method), std::move(target), std::move(body), std::move(headers)),
        boost::asio::use_future);
    io_.restart();
    io_.run();
    return future.get();
  }

  boost::asio::io_context io_;
  std::shared_ptr<ServedModel> served_;
  std::unique_ptr<ApiService> service_;
  http::Router router_;
  LocalInvoker invoker_{router_};
};

TEST_F(LocalInvokerTest, ChatCompletionAnswersAsOverHttp) {
  InvokeResult result = invoke("POST", "/v1/chat/completions", kChat, {{"X-Request-Id", "item-7"}});
  ASSERT_EQ(result.status, 200) << result.body;
  EXPECT_EQ(result.header("content-type"), "application/json");
  EXPECT_EQ(result.header("x-request-id"), "item-7");
  auto body = boost::json::parse(result.body);
  EXPECT_EQ(body.at("object").as_string(), "chat.completion");
  EXPECT_EQ(body.at("usage").at("completion_tokens").as_int64(), 5);
  EXPECT_TRUE(body.at("choices").as_array()[0].at("message").at("content").is_string());
  // Workers AI's route, its model in the path.
  InvokeResult workers = invoke("POST", "/ai/run/@cf/test/tiny", R"({"prompt": "Hi", "max_tokens": 3})");
  ASSERT_EQ(workers.status, 200) << workers.body;
  EXPECT_EQ(boost::json::parse(workers.body).at("result").at("usage").at("completion_tokens").as_int64(), 3);
  // Stats are published after the step that finished the request.
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (served_->engines[0]->stats().completed < 2 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(1ms);
  }
  EXPECT_EQ(served_->engines[0]->stats().completed, 2u);
}

TEST_F(LocalInvokerTest, StreamsComeBackWhole) {
  InvokeResult plain = invoke("POST", "/test/stream", "");
  EXPECT_EQ(plain.status, 200);
  EXPECT_EQ(plain.body, "abcdef");
  EXPECT_EQ(plain.header("x-extra"), "1");
  std::string body = kChat;
  body.insert(1, R"("stream": true, )");
  InvokeResult sse = invoke("POST", "/v1/chat/completions", body);
  EXPECT_EQ(sse.status, 200);
  EXPECT_EQ(sse.header("content-type"), "text/event-stream");
  EXPECT_EQ(sse.body.rfind("data: [DONE]\n\n"), sse.body.size() - 14) << sse.body;
}

TEST_F(LocalInvokerTest, UnknownRoutesAndMethodsAnswerAsTheServerWould) {
  InvokeResult missing = invoke("POST", "/v2/nothing", "{}");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(boost::json::parse(missing.body).at("error").at("code").as_string(), "not_found");
  InvokeResult wrong_method = invoke("GET", "/v1/chat/completions", "");
  EXPECT_EQ(wrong_method.status, 405);
  EXPECT_EQ(wrong_method.header("allow"), "POST");
  InvokeResult bad_target = invoke("POST", "no-slash", "");
  EXPECT_EQ(bad_target.status, 400);
  InvokeResult bad_request = invoke("POST", "/v1/chat/completions", R"({"model": "tiny"})");
  EXPECT_EQ(bad_request.status, 400);
  EXPECT_EQ(boost::json::parse(bad_request.body).at("error").at("type").as_string(), "invalid_request_error");
  InvokeResult bad_priority =
      invoke("POST", "/v1/chat/completions", kChat, {{"x-tether-priority", "soon"}});
  EXPECT_EQ(bad_priority.status, 400);
}

TEST_F(LocalInvokerTest, HandlerFailuresBecomeErrorResponses) {
  InvokeResult thrown = invoke("POST", "/test/throw", "");
  EXPECT_EQ(thrown.status, 400);
  EXPECT_NE(thrown.body.find("bad thing"), std::string::npos);
  // A stream cut short is never passed off as a whole answer.
  InvokeResult cut = invoke("POST", "/test/throw-mid-stream", "");
  EXPECT_EQ(cut.status, 500);
  EXPECT_EQ(cut.body.find("partial"), std::string::npos);
  EXPECT_EQ(invoke("POST", "/test/silent", "").status, 500);
}

// Marks the watch gone once the engine runs the request (on the io_context,
// as the dispatcher's strand would).
boost::asio::awaitable<void> cancel_when_running(const sched::Engine& engine, std::shared_ptr<http::ClientWatch> watch,
                                                 int* running_async_seen) {
  boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor);
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (engine.stats().running == 0 && std::chrono::steady_clock::now() < deadline) {
    timer.expires_after(2ms);
    co_await timer.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
  }
  *running_async_seen = engine.stats().running_async;
  watch->mark_gone();
}

TEST_F(LocalInvokerTest, MarkingTheWatchGoneCancelsTheGeneration) {
  const sched::Engine& engine = *served_->engines[0];
  auto watch = std::make_shared<http::ClientWatch>();
  auto future = boost::asio::co_spawn(
      io_,
      invoker_.invoke("POST", "/v1/chat/completions",
                      R"({"model": "tiny", "max_tokens": 100000, "ignore_eos": true,
                          "messages": [{"role": "user", "content": "Hello there"}]})",
                      {{"x-tether-priority", "async"}}, watch),
      boost::asio::use_future);
  int running_async_seen = -1;
  boost::asio::co_spawn(io_, cancel_when_running(engine, watch, &running_async_seen), boost::asio::detached);
  const auto started = std::chrono::steady_clock::now();
  io_.run();
  const InvokeResult result = future.get();
  EXPECT_EQ(result.status, kInvocationCancelled);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 10s);
  EXPECT_EQ(running_async_seen, 1);  // the header made it an async request
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (engine.stats().cancelled == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(2ms);
  }
  EXPECT_EQ(engine.stats().cancelled, 1u);
  EXPECT_EQ(engine.stats().completed, 0u);
}

}  // namespace
}  // namespace tether::api
