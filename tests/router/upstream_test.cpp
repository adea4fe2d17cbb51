// Upstream: requests relayed to a fake upstream (our own HTTP server) through
// a front server whose handler proxies, as the API service does; the active
// health checker.

#include "router/upstream.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include "../http/test_server.h"
#include "fake_upstreams.h"
#include "common/error.h"
#include "router/health_checker.h"

namespace tether::router {
namespace {

using namespace std::chrono_literals;
using tether::testing::get_request;
using tether::testing::post_request;
using tether::testing::raw_request;
using tether::testing::RawSocket;
using tether::testing::TestServer;

using tether::testing::async_sleep;
using tether::testing::closed_port;

UpstreamOptions options_for(uint16_t port, std::string path = "") {
  UpstreamOptions options;
  options.url = "http://127.0.0.1:" + std::to_string(port) + path;
  options.connect_timeout = 1000ms;
  options.response_timeout = 400ms;
  options.idle_timeout = 2000ms;
  return options;
}

// What the fake upstream saw of the last request.
struct Seen {
  std::mutex mutex;
  std::string body, authorization, affinity, request_id, target, priority;
  std::atomic<bool> client_gone{false};
};

// A front server whose /v1/chat/completions proxies to `upstream`, recording
// the result; a failure before the response is answered 502 by the front.
class Front {
 public:
  explicit Front(std::shared_ptr<Upstream> upstream) : upstream_(std::move(upstream)) {
    http::ServerOptions options = TestServer::quiet_options();
    options.io_threads = 2;  // pooled connections move between strands
    server_ = std::make_unique<TestServer>(options);
    server_->router().add("POST", "/v1/chat/completions", [this](http::Exchange& exchange) {
      return handle(exchange);
    });
    server_->start();
  }
  uint16_t port() const { return server_->port(); }
  ProxyResult result() {
    std::lock_guard lock(mutex_);
    return result_;
  }
  bool wrote_before_failure() {
    std::lock_guard lock(mutex_);
    return wrote_before_failure_;
  }
  // Waits for the handler of the last request to finish.
  bool wait_done(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return done_cv_.wait_for(lock, timeout, [this] { return done_; });
  }

 private:
  boost::asio::awaitable<void> handle(http::Exchange& exchange) {
    {
      std::lock_guard lock(mutex_);
      done_ = false;
    }
    const boost::json::value body = boost::json::parse(exchange.request().body);
    ProxyResult result = co_await upstream_->proxy(exchange, "/v1/chat/completions", body.as_object());
    const bool wrote = exchange.responded();
    {
      std::lock_guard lock(mutex_);
      result_ = result;
      wrote_before_failure_ = result.status == ProxyResult::Status::kFailedBeforeResponse && wrote;
      done_ = true;
    }
    done_cv_.notify_all();
    if (result.status == ProxyResult::Status::kFailedBeforeResponse && !wrote) {
      co_await exchange.respond(502, result.error_kind + ": " + result.error);
    }
  }

  std::shared_ptr<Upstream> upstream_;
  std::unique_ptr<TestServer> server_;
  std::mutex mutex_;
  std::condition_variable done_cv_;
  bool done_ = false;
  ProxyResult result_;
  bool wrote_before_failure_ = false;
};

const std::string kChat = R"({"model":"client-model","messages":[{"role":"user","content":"hi"}]})";
const std::string kStreamChat =
    R"({"model":"client-model","stream":true,"messages":[{"role":"user","content":"hi"}]})";

void record(Seen& seen, const http::Exchange& exchange) {
  std::lock_guard lock(seen.mutex);
  seen.body = exchange.request().body;
  seen.authorization = std::string(exchange.request().header("authorization").value_or(""));
  seen.affinity = std::string(exchange.request().header("x-session-affinity").value_or(""));
  seen.request_id = std::string(exchange.request().header("x-request-id").value_or(""));
  seen.target = exchange.request().target;
  seen.priority = std::string(exchange.request().header("x-tether-priority").value_or(""));
}

TEST(UpstreamTest, WholeAnswerIsRelayedWithUsageTheUpstreamsModelAndBearer) {
  Seen seen;
  TestServer fake;
  fake.router().add("POST", "/v1/chat/completions", [&seen](http::Exchange& exchange) -> boost::asio::awaitable<void> {
    record(seen, exchange);
    co_await exchange.respond(
        200, R"({"object":"chat.completion","usage":{"prompt_tokens":10,"completion_tokens":2,"prompt_tokens_details":{"cached_tokens":4}}})",
        "application/json");
  });
  fake.start();
  UpstreamOptions options = options_for(fake.port());
  options.model = "upstream-model";
  options.api_key = "sk-upstream";
  auto upstream = std::make_shared<Upstream>(options);
  EXPECT_EQ(upstream->id(), "127.0.0.1:" + std::to_string(fake.port()));
  Front front(upstream);

  auto response = raw_request(front.port(), post_request("/v1/chat/completions", kChat,
                                                         "authorization: Bearer client-key\r\n"
                                                         "x-session-affinity: s-1\r\nx-request-id: req-77\r\n"
                                                         "x-tether-priority: async\r\n"));
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->header("content-type"), "application/json");
  EXPECT_NE(response->body.find("\"cached_tokens\":4"), std::string::npos) << response->body;
  ASSERT_TRUE(front.wait_done(5s));
  const ProxyResult result = front.result();
  EXPECT_EQ(result.status, ProxyResult::Status::kRelayed);
  EXPECT_EQ(result.upstream_status, 200);
  EXPECT_EQ(result.prompt_tokens, 10);
  EXPECT_EQ(result.cached_tokens, 4);
  std::lock_guard lock(seen.mutex);
  EXPECT_EQ(boost::json::parse(seen.body).at("model").as_string(), "upstream-model");
  EXPECT_EQ(seen.authorization, "Bearer sk-upstream");  // never the client's key
  EXPECT_EQ(seen.affinity, "s-1");
  EXPECT_EQ(seen.request_id, "req-77");
  EXPECT_EQ(seen.priority, "async");  // an async job stays async on the upstream
}

TEST(UpstreamTest, EventStreamPassesThroughChunkByChunk) {
  std::atomic<bool> first_seen{false};
  TestServer fake;
  fake.router().add("POST", "/v1/chat/completions", [&](http::Exchange& exchange) -> boost::asio::awaitable<void> {
    co_await exchange.start_stream(200, "text/event-stream");
    co_await exchange.write("data: {\"choices\":[{\"delta\":{\"content\":\"one\"}}]}\n\n");
    // The second chunk waits until the client has the first one (at most 5 s).
    for (int i = 0; i < 500 && !first_seen.load(); ++i) co_await async_sleep(10ms);
    co_await exchange.write("data: {\"choices\":[],\"usage\":{\"prompt_tokens\":7,\"prompt_tokens_details\":"
                            "{\"cached_tokens\":3}}}\n\ndata: [DONE]\n\n");
    co_await exchange.finish();
  });
  fake.start();
  auto upstream = std::make_shared<Upstream>(options_for(fake.port()));
  Front front(upstream);

  RawSocket socket(front.port());
  ASSERT_TRUE(socket.send(post_request("/v1/chat/completions", kStreamChat)));
  auto head = socket.read_head();
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->header("content-type"), "text/event-stream");
  const auto began = std::chrono::steady_clock::now();
  auto first = socket.read_chunk();
  ASSERT_TRUE(first);
  EXPECT_NE(first->find("one"), std::string::npos);
  EXPECT_LT(std::chrono::steady_clock::now() - began, 3s) << "the first chunk waited for the rest";
  EXPECT_FALSE(first_seen.load());
  first_seen = true;
  std::string rest;
  while (auto chunk = socket.read_chunk()) {
    if (chunk->empty()) break;
    rest += *chunk;
  }
  EXPECT_NE(rest.find("data: [DONE]"), std::string::npos) << rest;
  ASSERT_TRUE(front.wait_done(5s));
  EXPECT_EQ(front.result().status, ProxyResult::Status::kRelayed);
  EXPECT_EQ(front.result().prompt_tokens, 7);
  EXPECT_EQ(front.result().cached_tokens, 3);
}

TEST(UpstreamTest, ClientErrorsAreRelayed) {
  TestServer fake;
  fake.router().add("POST", "/v1/chat/completions", [](http::Exchange& exchange) -> boost::asio::awaitable<void> {
    co_await exchange.respond(400, R"({"error":{"message":"bad temperature"}})", "application/json");
  });
  fake.start();
  Front front(std::make_shared<Upstream>(options_for(fake.port())));
  auto response = raw_request(front.port(), post_request("/v1/chat/completions", kChat));
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 400);
  EXPECT_NE(response->body.find("bad temperature"), std::string::npos);
  ASSERT_TRUE(front.wait_done(5s));
  EXPECT_EQ(front.result().status, ProxyResult::Status::kRelayed);
}

TEST(UpstreamTest, FailuresBeforeTheAnswerWriteNothing) {
  TestServer fake;
  fake.router().add("POST", "/v1/chat/completions", [](http::Exchange& exchange) -> boost::asio::awaitable<void> {
    const std::string mode(exchange.request().header("x-session-affinity").value_or(""));
    if (mode == "busy") {
      co_await exchange.respond(429, "slow down");
    } else if (mode == "broken") {
      co_await exchange.respond(503, "overloaded\nplease wait");
    } else {
      co_await tether::testing::hang_until_client_gone(exchange);  // past the response timeout
    }
  });
  fake.start();
  Front front(std::make_shared<Upstream>(options_for(fake.port())));
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"busy", "status"}, {"broken", "status"}, {"hang", "timeout"}};
  for (const auto& [mode, kind] : cases) {
    const auto began = std::chrono::steady_clock::now();
    auto response = raw_request(front.port(),
                                post_request("/v1/chat/completions", kChat, "x-session-affinity: " + mode + "\r\n"));
    ASSERT_TRUE(response) << mode;
    EXPECT_EQ(response->status, 502) << mode << ": " << response->body;
    EXPECT_EQ(response->body.rfind(kind + ":", 0), 0u) << mode << ": " << response->body;
    ASSERT_TRUE(front.wait_done(5s));
    EXPECT_EQ(front.result().status, ProxyResult::Status::kFailedBeforeResponse) << mode;
    EXPECT_FALSE(front.wrote_before_failure()) << mode;
    EXPECT_LT(std::chrono::steady_clock::now() - began, 2500ms) << mode;
  }
  EXPECT_NE(front.result().error.find("timeout"), std::string::npos) << front.result().error;

  Front dead(std::make_shared<Upstream>(options_for(closed_port())));
  auto refused = raw_request(dead.port(), post_request("/v1/chat/completions", kChat));
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 502);
  EXPECT_EQ(refused->body.rfind("connect:", 0), 0u) << refused->body;
}

TEST(UpstreamTest, AStreamThatBreaksEndsWithAnErrorEvent) {
  TestServer fake;
  fake.router().add("POST", "/v1/chat/completions", tether::testing::die_mid_stream);
  fake.start();
  Front front(std::make_shared<Upstream>(options_for(fake.port())));
  auto response = raw_request(front.port(), post_request("/v1/chat/completions", kStreamChat));
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
  EXPECT_NE(response->body.find("partial"), std::string::npos) << response->body;
  EXPECT_NE(response->body.find("upstream_error"), std::string::npos) << response->body;
  EXPECT_EQ(response->body.find("[DONE]"), std::string::npos) << response->body;
  ASSERT_TRUE(front.wait_done(5s));
  EXPECT_EQ(front.result().status, ProxyResult::Status::kFailedMidStream);
}

TEST(UpstreamTest, AClientThatLeavesClosesTheUpstreamConnection) {
  std::atomic<bool> upstream_saw_gone{false};
  TestServer fake;
  fake.router().add("POST", "/v1/chat/completions", [&](http::Exchange& exchange) -> boost::asio::awaitable<void> {
    co_await exchange.start_stream(200, "text/event-stream");
    co_await exchange.write("data: {\"n\":1}\n\n");
    for (int i = 0; i < 500 && !exchange.client_gone(); ++i) co_await async_sleep(10ms);
    upstream_saw_gone = exchange.client_gone();
  });
  fake.start();
  UpstreamOptions options = options_for(fake.port());
  options.idle_timeout = 10s;  // only the client's leaving may end the wait
  Front front(std::make_shared<Upstream>(options));
  {
    RawSocket socket(front.port());
    ASSERT_TRUE(socket.send(post_request("/v1/chat/completions", kStreamChat)));
    ASSERT_TRUE(socket.read_head());
    ASSERT_TRUE(socket.read_chunk());
    socket.reset();
  }
  ASSERT_TRUE(front.wait_done(5s));
  EXPECT_EQ(front.result().status, ProxyResult::Status::kClientGone);
  for (int i = 0; i < 500 && !upstream_saw_gone.load(); ++i) std::this_thread::sleep_for(10ms);
  EXPECT_TRUE(upstream_saw_gone.load());
}

TEST(UpstreamTest, KeepAliveConnectionsArePooledAcrossRequests) {
  TestServer fake;
  fake.router().add("POST", "/v1/chat/completions", [](http::Exchange& exchange) -> boost::asio::awaitable<void> {
    if (exchange.request().body.find("\"stream\":true") != std::string::npos) {
      co_await exchange.start_stream(200, "text/event-stream");
      co_await exchange.write("data: [DONE]\n\n");
      co_await exchange.finish();
    } else {
      co_await exchange.respond(200, "{}", "application/json");
    }
  });
  fake.start();
  auto upstream = std::make_shared<Upstream>(options_for(fake.port()));
  Front front(upstream);
  for (int i = 0; i < 6; ++i) {
    // Each request comes on a new front connection (a new strand).
    auto response = raw_request(front.port(), post_request("/v1/chat/completions", i % 2 ? kStreamChat : kChat));
    ASSERT_TRUE(response);
    EXPECT_EQ(response->status, 200);
    ASSERT_TRUE(front.wait_done(5s));
  }
  EXPECT_EQ(upstream->connections_opened(), 1);
  EXPECT_EQ(upstream->idle_connections(), 1u);
}

TEST(UpstreamTest, BasePathsAndUrlMistakes) {
  Seen seen;
  TestServer fake;
  auto handler = [&seen](http::Exchange& exchange) -> boost::asio::awaitable<void> {
    record(seen, exchange);
    co_await exchange.respond(200, "{}", "application/json");
  };
  fake.router().add("POST", "/v1/chat/completions", handler);
  fake.router().add("POST", "/base/v1/chat/completions", handler);
  fake.start();
  for (const auto& [path, expected] : std::vector<std::pair<std::string, std::string>>{
           {"/v1", "/v1/chat/completions"}, {"/v1/", "/v1/chat/completions"},
           {"/base", "/base/v1/chat/completions"}}) {
    Front front(std::make_shared<Upstream>(options_for(fake.port(), path)));
    auto response = raw_request(front.port(), post_request("/v1/chat/completions", kChat));
    ASSERT_TRUE(response);
    EXPECT_EQ(response->status, 200) << path;
    std::lock_guard lock(seen.mutex);
    EXPECT_EQ(seen.target, expected) << path;
  }
  auto error_of = [](const std::string& url) -> std::string {
    UpstreamOptions options;
    options.url = url;
    try {
      Upstream upstream(options);
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_NE(error_of("https://example.com").find("https is not supported"), std::string::npos);
  EXPECT_NE(error_of("ftp://example.com").find("must start with http://"), std::string::npos);
  EXPECT_NE(error_of("not a url").find("is not a URL"), std::string::npos);
  EXPECT_NE(error_of("http://:80").find("no host"), std::string::npos);
  EXPECT_NE(error_of("http://host:0").find("bad port"), std::string::npos);
  EXPECT_NE(error_of("http://host/?q=1").find("no query"), std::string::npos);
  EXPECT_EQ(error_of("http://host"), "");
  UpstreamOptions plain;
  plain.url = "http://gpu-a";
  EXPECT_EQ(Upstream(plain).id(), "gpu-a:80");
}

TEST(UpstreamTest, UsageFromEitherDialect) {
  const RelayedUsage openai = usage_of(boost::json::parse(
      R"({"usage":{"prompt_tokens":12,"completion_tokens":3,"prompt_tokens_details":{"cached_tokens":8}}})"));
  EXPECT_EQ(openai.prompt_tokens, 12);
  EXPECT_EQ(openai.cached_tokens, 8);
  EXPECT_EQ(openai.completion_tokens, 3);
  const RelayedUsage workers = usage_of(boost::json::parse(R"({"result":{"usage":{"prompt_tokens":5}}})"));
  EXPECT_EQ(workers.prompt_tokens, 5);
  EXPECT_EQ(workers.cached_tokens, 0);
  EXPECT_FALSE(usage_of(boost::json::parse(R"({"usage":null})")).prompt_tokens);
  EXPECT_FALSE(usage_of(boost::json::parse("[1,2]")).prompt_tokens);
  EXPECT_FALSE(usage_of(boost::json::parse(R"({"usage":{"prompt_tokens":"many"}})")).prompt_tokens);
}

TEST(UpstreamTest, ProbesAndTheHealthChecker) {
  std::atomic<bool> healthy{true};
  TestServer fake;
  fake.router().add("GET", "/health", [&healthy](http::Exchange& exchange) -> boost::asio::awaitable<void> {
    co_await exchange.respond(healthy.load() ? 200 : 503, "");
  });
  fake.start();
  UpstreamOptions up_options = options_for(fake.port());
  up_options.id = "up";
  up_options.health_interval = 50ms;
  UpstreamOptions down_options = options_for(closed_port());
  down_options.id = "down";
  down_options.health_interval = 50ms;
  auto up = std::make_shared<Upstream>(up_options);
  auto down = std::make_shared<Upstream>(down_options);

  std::mutex mutex;
  std::condition_variable changed;
  std::map<std::string, std::vector<bool>> results;
  boost::asio::io_context io;
  auto work = boost::asio::make_work_guard(io);
  std::thread runner([&io] { io.run(); });
  auto checker = std::make_unique<HealthChecker>(io.get_executor(), std::vector<std::shared_ptr<Upstream>>{up, down},
                                                 [&](const std::string& id, bool ok) {
                                                   std::lock_guard lock(mutex);
                                                   results[id].push_back(ok);
                                                   changed.notify_all();
                                                 });
  checker->start();
  auto wait_for = [&](auto predicate) {
    std::unique_lock lock(mutex);
    return changed.wait_for(lock, 10s, [&] { return predicate(); });
  };
  EXPECT_TRUE(wait_for([&] { return results["up"].size() >= 2 && results["down"].size() >= 2; }));
  {
    std::lock_guard lock(mutex);
    EXPECT_TRUE(results["up"].back());
    EXPECT_FALSE(results["down"].back());
  }
  healthy = false;  // the upstream turns unhealthy: the next probes say so
  EXPECT_TRUE(wait_for([&] { return !results["up"].back(); }));
  healthy = true;   // and re-admit it
  EXPECT_TRUE(wait_for([&] { return results["up"].back(); }));
  checker->stop();
  checker->stop();  // idempotent
  std::this_thread::sleep_for(100ms);
  size_t reported;
  {
    std::lock_guard lock(mutex);
    reported = results["up"].size();
  }
  std::this_thread::sleep_for(200ms);
  {
    std::lock_guard lock(mutex);
    EXPECT_EQ(results["up"].size(), reported);  // no probes after stop
  }
  checker.reset();
  work.reset();
  io.stop();
  runner.join();
}

}  // namespace
}  // namespace tether::router
