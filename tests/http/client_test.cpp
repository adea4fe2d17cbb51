#include "http/client.h"

#include <future>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "common/error.h"
#include "http/sse_parser.h"
#include "http/test_server.h"

namespace tether::http {
namespace {

using namespace std::chrono_literals;
using testing::TestServer;

template <class T>
T run_sync(boost::asio::io_context& io, boost::asio::awaitable<T> task) {
  std::future<T> result = boost::asio::co_spawn(io, std::move(task), boost::asio::use_future);
  io.restart();
  io.run();
  return result.get();
}

class ClientTest : public ::testing::Test {
 protected:
  void SetUp() override { start(TestServer::quiet_options()); }
  void start(ServerOptions options) {
    server_ = std::make_unique<TestServer>(options);
    Router& router = server_->router();
    router.add("POST", "/echo", [](Exchange& exchange) -> boost::asio::awaitable<void> {
      co_await exchange.respond(200, exchange.request().body, "application/json");
    });
    router.add("GET", "/events", [](Exchange& exchange) -> boost::asio::awaitable<void> {
      co_await exchange.start_stream(200, "text/event-stream");
      for (int event_idx = 0; event_idx < 3; ++event_idx) {
        co_await exchange.write("data: {\"n\":" + std::to_string(event_idx) + "}\n\n");
        boost::asio::steady_timer timer(exchange.executor(), 20ms);
        co_await timer.async_wait(boost::asio::use_awaitable);
      }
      co_await exchange.write("data: [DONE]\n\n");
      co_await exchange.finish();
    });
    router.add("GET", "/hang", [](Exchange& exchange) -> boost::asio::awaitable<void> {
      boost::asio::steady_timer timer(exchange.executor(), 5s);
      exchange.on_client_gone([&timer] { timer.cancel(); });
      co_await timer.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
      co_await exchange.respond(200, "late");
    });
    server_->start();
  }

  boost::asio::io_context io_;
  std::unique_ptr<TestServer> server_;
};

TEST_F(ClientTest, ReusesOneKeepAliveConnection) {
  HttpClient client(io_.get_executor(), "127.0.0.1", server_->port());
  for (int request_idx = 0; request_idx < 3; ++request_idx) {
    boost::json::object body{{"i", request_idx}};
    ClientResponse response = run_sync(io_, client.post_json("/echo", body, {{"x-request-id", "c1"}}));
    EXPECT_EQ(response.status, 200);
    EXPECT_EQ(boost::json::parse(response.body), body);
    EXPECT_EQ(response.header("X-Request-Id"), "c1");
  }
  EXPECT_EQ(client.connections_opened(), 1);
  ClientResponse missing = run_sync(io_, client.request("GET", "/missing"));
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(client.connections_opened(), 1);
}

TEST_F(ClientTest, ReconnectsWhenTheServerClosedAnIdleConnection) {
  ServerOptions options = TestServer::quiet_options();
  options.idle_timeout = 50ms;
  start(options);
  HttpClient client(io_.get_executor(), "127.0.0.1", server_->port());
  EXPECT_EQ(run_sync(io_, client.request("POST", "/echo", "a")).body, "a");
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(run_sync(io_, client.request("POST", "/echo", "b")).body, "b");
  EXPECT_EQ(client.connections_opened(), 2);
}

TEST_F(ClientTest, ReadsAStreamIncrementallyIntoSseEvents) {
  HttpClient client(io_.get_executor(), "127.0.0.1", server_->port());
  auto read_stream = [&]() -> boost::asio::awaitable<std::vector<std::string>> {
    ClientResponse head = co_await client.start("GET", "/events");
    EXPECT_EQ(head.status, 200);
    EXPECT_EQ(head.header("content-type"), "text/event-stream");
    SseParser parser;
    std::vector<std::string> data;
    int chunks = 0;
    while (auto chunk = co_await client.next_chunk()) {
      ++chunks;
      for (auto& event : parser.feed(*chunk)) data.push_back(event.data);
    }
    EXPECT_GE(chunks, 2);  // events arrived as they were written, not at once
    co_return data;
  };
  std::vector<std::string> data = run_sync(io_, read_stream());
  EXPECT_EQ(data, (std::vector<std::string>{"{\"n\":0}", "{\"n\":1}", "{\"n\":2}", "[DONE]"}));
  // The connection is reused after the stream.
  EXPECT_EQ(run_sync(io_, client.request("POST", "/echo", "after")).body, "after");
  EXPECT_EQ(client.connections_opened(), 1);
}

TEST_F(ClientTest, TimeoutsAndRefusedConnectionsAreErrors) {
  ClientOptions options;
  options.io_timeout = 200ms;
  HttpClient client(io_.get_executor(), "127.0.0.1", server_->port(), options);
  const auto begin = std::chrono::steady_clock::now();
  EXPECT_THROW(run_sync(io_, client.request("GET", "/hang")), Error);
  EXPECT_LT(std::chrono::steady_clock::now() - begin, 3s);
  EXPECT_EQ(run_sync(io_, client.request("POST", "/echo", "ok")).body, "ok");  // usable again

  const uint16_t port = server_->port();
  server_->stop();
  HttpClient refused(io_.get_executor(), "127.0.0.1", port);
  try {
    run_sync(io_, refused.request("GET", "/"));
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kIo);
  }
}

}  // namespace
}  // namespace tether::http
