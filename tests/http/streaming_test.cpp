// Streaming responses, the awaitable EventChannel, disconnect detection and
// graceful drain.

#include <atomic>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <gtest/gtest.h>

#include "http/event_channel.h"
#include "http/server.h"
#include "http/test_server.h"

namespace tether::http {
namespace {

using namespace std::chrono_literals;
using testing::RawSocket;
using testing::TestServer;
using testing::get_request;

// Channels the handlers opened, so the test thread can push into them (as
// the engine's scheduler thread does).
struct ChannelBoard {
  std::mutex mutex;
  std::vector<EventChannel<std::string>> channels;
  std::atomic<int> in_handler{0};
  std::atomic<int> saw_gone{0};
  std::atomic<int> finished{0};

  void add(const EventChannel<std::string>& channel) {
    std::lock_guard lock(mutex);
    channels.push_back(channel);
  }
  std::vector<EventChannel<std::string>> all() {
    std::lock_guard lock(mutex);
    return channels;
  }
};

// SSE: one event at once, then one per pushed item until the channel closes
// or the client goes.
Handler sse_handler(ChannelBoard& board) {
  return [&board](Exchange& exchange) -> boost::asio::awaitable<void> {
    EventChannel<std::string> channel(exchange);
    board.add(channel);
    ++board.in_handler;
    co_await exchange.start_stream(200, "text/event-stream");
    co_await exchange.write("data: hello\n\n");
    while (auto item = co_await channel.next()) {
      if (!co_await exchange.write("data: " + *item + "\n\n")) break;
    }
    if (exchange.client_gone()) {
      ++board.saw_gone;
    } else {
      co_await exchange.write("data: [DONE]\n\n");
      co_await exchange.finish();
    }
    ++board.finished;
  };
}

bool wait_for(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (condition()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return condition();
}

TEST(StreamingTest, EventsPushedFromAnotherThreadStreamAsChunks) {
  ChannelBoard board;
  TestServer server;
  server.router().add("GET", "/events", sse_handler(board));
  server.start();
  RawSocket socket(server.port());
  socket.send(get_request("/events", "x-session-affinity: s1\r\n"));
  auto head = socket.read_head();
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->header("content-type"), "text/event-stream");
  EXPECT_EQ(head->header("transfer-encoding"), "chunked");
  EXPECT_EQ(head->header("x-session-affinity"), "s1");
  EXPECT_EQ(socket.read_chunk(), "data: hello\n\n");
  ASSERT_TRUE(wait_for([&] { return board.in_handler == 1; }, 2s));
  std::thread producer([channel = board.all().front()] {
    for (int item_idx = 0; item_idx < 3; ++item_idx) channel.push("token" + std::to_string(item_idx));
    channel.close();
  });
  producer.join();
  for (int item_idx = 0; item_idx < 3; ++item_idx) {
    EXPECT_EQ(socket.read_chunk(), "data: token" + std::to_string(item_idx) + "\n\n");
  }
  EXPECT_EQ(socket.read_chunk(), "data: [DONE]\n\n");
  EXPECT_EQ(socket.read_chunk(), "");  // the terminal chunk
  // The connection is reusable after the stream.
  socket.send(get_request("/events"));
  EXPECT_EQ(socket.read_head()->status, 200);
}

TEST(StreamingTest, AbruptDisconnectWhileIdleIsNoticedAtOnce) {
  ChannelBoard board;
  TestServer server;
  server.router().add("GET", "/events", sse_handler(board));
  server.start();
  {
    RawSocket socket(server.port());
    socket.send(get_request("/events"));
    ASSERT_TRUE(socket.read_head());
    ASSERT_EQ(socket.read_chunk(), "data: hello\n\n");
    socket.reset();
  }
  // Nothing is pushed and nothing written: the server's read notices the hang-up.
  EXPECT_TRUE(wait_for([&] { return board.saw_gone == 1; }, 2s));
  // A push after the handler is done goes nowhere and does not crash.
  board.all().front().push("late");
  {
    RawSocket socket(server.port());
    socket.send(get_request("/events"));
    ASSERT_TRUE(socket.read_head());
    ASSERT_EQ(socket.read_chunk(), "data: hello\n\n");
    board.all().back().push("one");
    ASSERT_EQ(socket.read_chunk(), "data: one\n\n");
    socket.close();  // an orderly close mid-stream is a hang-up too
  }
  EXPECT_TRUE(wait_for([&] { return board.saw_gone == 2; }, 2s));
}

TEST(StreamingTest, HandlerCancelsWorkOnDisconnectThroughTheCallback) {
  std::atomic<bool> cancelled{false};
  TestServer server;
  server.router().add("GET", "/work", [&](Exchange& exchange) -> boost::asio::awaitable<void> {
    exchange.on_client_gone([&] { cancelled = true; });
    boost::asio::steady_timer timer(exchange.executor(), 10s);
    exchange.on_client_gone([&timer] { timer.cancel(); });
    co_await timer.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
    co_await exchange.respond(200, "done");
  });
  server.start();
  RawSocket socket(server.port());
  socket.send(get_request("/work"));
  std::this_thread::sleep_for(50ms);
  socket.reset();
  EXPECT_TRUE(wait_for([&] { return cancelled.load(); }, 2s));
}

TEST(StreamingTest, ManyConcurrentStreamsOnOneIoThread) {
  constexpr int kStreams = 256;
  ChannelBoard board;
  http::ServerOptions options = TestServer::quiet_options();
  options.io_threads = 1;
  TestServer server(options);
  server.router().add("GET", "/events", sse_handler(board));
  server.start();
  std::vector<std::unique_ptr<RawSocket>> sockets;
  for (int stream_idx = 0; stream_idx < kStreams; ++stream_idx) {
    sockets.push_back(std::make_unique<RawSocket>(server.port()));
    ASSERT_TRUE(sockets.back()->send(get_request("/events")));
  }
  for (auto& socket : sockets) {
    auto head = socket->read_head();
    ASSERT_TRUE(head);
    ASSERT_EQ(head->status, 200);
    ASSERT_EQ(socket->read_chunk(), "data: hello\n\n");
  }
  // All are inside their handler at the same time, on one thread.
  EXPECT_EQ(board.in_handler.load(), kStreams);
  EXPECT_EQ(server.server().open_connections(), static_cast<size_t>(kStreams));
  for (auto& channel : board.all()) {
    channel.push("bye");
    channel.close();
  }
  for (auto& socket : sockets) {
    ASSERT_EQ(socket->read_chunk(), "data: bye\n\n");
    ASSERT_EQ(socket->read_chunk(), "data: [DONE]\n\n");
    ASSERT_EQ(socket->read_chunk(), "");
  }
  EXPECT_TRUE(wait_for([&] { return board.finished == kStreams; }, 5s));
}

TEST(StreamingTest, DrainLetsInFlightRequestsFinishWithinTheGrace) {
  std::promise<void> entered;
  TestServer server;
  server.router().add("GET", "/slow", [&](Exchange& exchange) -> boost::asio::awaitable<void> {
    entered.set_value();
    boost::asio::steady_timer timer(exchange.executor(), 200ms);
    co_await timer.async_wait(boost::asio::use_awaitable);
    co_await exchange.respond(200, "finished");
  });
  server.router().add("GET", "/health", [](Exchange& exchange) -> boost::asio::awaitable<void> {
    co_await exchange.respond(200, "ok");
  });
  server.start();
  RawSocket idle(server.port());  // keep-alive, between requests
  idle.send(get_request("/health"));
  ASSERT_EQ(idle.read_response()->status, 200);
  RawSocket busy(server.port());
  busy.send(get_request("/slow"));
  entered.get_future().wait();
  const auto begin = std::chrono::steady_clock::now();
  server.stop(5s);  // returns once drained
  EXPECT_LT(std::chrono::steady_clock::now() - begin, 3s);
  auto response = busy.read_response();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "finished");
  EXPECT_EQ(response->header("connection"), "close");
  EXPECT_TRUE(idle.wait_closed(1s));
}

TEST(StreamingTest, DrainDeadlineClosesStreamsAndHandlersSeeTheClientGone) {
  ChannelBoard board;
  TestServer server;
  server.router().add("GET", "/events", sse_handler(board));
  server.start();
  RawSocket socket(server.port());
  socket.send(get_request("/events"));
  ASSERT_TRUE(socket.read_head());
  ASSERT_EQ(socket.read_chunk(), "data: hello\n\n");
  const auto begin = std::chrono::steady_clock::now();
  server.stop(200ms);
  const auto elapsed = std::chrono::steady_clock::now() - begin;
  EXPECT_GE(elapsed, 150ms);
  EXPECT_LT(elapsed, 3s);
  EXPECT_EQ(board.saw_gone.load(), 1);
  EXPECT_TRUE(socket.wait_closed(1s));
}

}  // namespace
}  // namespace tether::http
