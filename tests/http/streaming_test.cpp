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

namespace tether::http {
namespace {

TEST(StreamingTest, HandlerFailingMidStreamLeavesTheResponseIncomplete) {
  TestServer server;
  server.router().add("GET", "/broken", [](Exchange& exchange) -> boost::asio::awaitable<void> {
    co_await exchange.start_stream(200, "text/event-stream");
    co_await exchange.write("data: partial\n\n");
    throw std::runtime_error("generation failed");
  });
  server.start();
  RawSocket socket(server.port());
  socket.send(get_request("/broken"));
  ASSERT_EQ(socket.read_head()->status, 200);
  EXPECT_EQ(socket.read_chunk(), "data: partial\n\n");
  EXPECT_EQ(socket.read_chunk(), std::nullopt);  // closed, no terminal chunk
}

}  // namespace
}  // namespace tether::http

namespace tether::http {
namespace {

TEST(StreamingTest, AClientThatStopsReadingIsCutOffByTheWriteTimeout) {
  std::promise<bool> write_failed;
  http::ServerOptions options = TestServer::quiet_options();
  options.write_timeout = 200ms;
  TestServer server(options);
  server.router().add("GET", "/firehose", [&](Exchange& exchange) -> boost::asio::awaitable<void> {
    co_await exchange.start_stream(200, "application/octet-stream");
    const std::string block(64 * 1024, 'x');
    for (int block_idx = 0; block_idx < 10000; ++block_idx) {
      if (!co_await exchange.write(block)) {
        write_failed.set_value(exchange.client_gone());
        co_return;
      }
    }
    write_failed.set_value(false);
  });
  server.start();
  RawSocket socket(server.port());
  int buffer_bytes = 4096;
  ::setsockopt(socket.fd(), SOL_SOCKET, SO_RCVBUF, &buffer_bytes, sizeof buffer_bytes);
  socket.send(get_request("/firehose"));
  auto result = write_failed.get_future();
  ASSERT_EQ(result.wait_for(5s), std::future_status::ready);
  EXPECT_TRUE(result.get());
}

TEST(StreamingTest, Http10ClientsGetAStreamEndedByClose) {
  TestServer server;
  server.router().add("GET", "/events", [](Exchange& exchange) -> boost::asio::awaitable<void> {
    co_await exchange.start_stream(200, "text/event-stream");
    co_await exchange.write("data: a\n\n");
    co_await exchange.write("data: b\n\n");
    co_await exchange.finish();
  });
  server.start();
  RawSocket socket(server.port());
  socket.send("GET /events HTTP/1.0\r\n\r\n");
  auto response = socket.read_response();
  ASSERT_TRUE(response);
  EXPECT_TRUE(response->header("transfer-encoding").empty());
  EXPECT_EQ(response->header("connection"), "close");
  EXPECT_EQ(response->body, "data: a\n\ndata: b\n\n");
}

TEST(StreamingTest, ExpectContinueGetsAnInterimResponse) {
  TestServer server;
  server.router().add("POST", "/echo", [](Exchange& exchange) -> boost::asio::awaitable<void> {
    co_await exchange.respond(200, exchange.request().body);
  });
  server.start();
  RawSocket socket(server.port());
  socket.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
  EXPECT_EQ(socket.read_line(), "HTTP/1.1 100 Continue");
  EXPECT_EQ(socket.read_line(), "");
  socket.send("hello");
  auto response = socket.read_response();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->body, "hello");
}

}  // namespace
}  // namespace tether::http

namespace tether::http {
namespace {

TEST(StreamingTest, StopNowCutsALongDrainShort) {
  ChannelBoard board;
  TestServer server;
  server.router().add("GET", "/events", sse_handler(board));
  server.start();
  RawSocket socket(server.port());
  socket.send(get_request("/events"));
  ASSERT_TRUE(socket.read_head());
  ASSERT_EQ(socket.read_chunk(), "data: hello\n\n");
  const auto begin = std::chrono::steady_clock::now();
  server.server().stop(60s);
  std::this_thread::sleep_for(50ms);
  EXPECT_FALSE(socket.wait_closed(50ms));  // still draining
  server.server().stop_now();
  server.stop();  // joins run()
  EXPECT_LT(std::chrono::steady_clock::now() - begin, 5s);
  EXPECT_EQ(board.saw_gone.load(), 1);
}

}  // namespace
}  // namespace tether::http

namespace tether::http {
namespace {

// A keep-alive client that sends its next request the moment a stream ends:
// the request's bytes can reach the disconnect watch just as the server
// stops it. Every request must still be answered (a watch that read on past
// its stop once swallowed the next request and hung the connection).
TEST(StreamingTest, ARequestSentAsTheStreamEndsIsAnswered) {
  http::ServerOptions options = TestServer::quiet_options();
  options.io_threads = 2;
  TestServer server(options);
  server.router().add("GET", "/s", [](Exchange& exchange) -> boost::asio::awaitable<void> {
    co_await exchange.start_stream(200, "text/event-stream");
    co_await exchange.write("data: x\n\n");
    co_await exchange.finish();
    // Holds the strand while the client's next request arrives: the other
    // io thread reads it for the watch, whose completion then races the stop.
    std::this_thread::sleep_for(5ms);
  });
  server.start();
  RawSocket socket(server.port(), 3s);
  for (int i = 0; i < 200; ++i) {
    ASSERT_TRUE(socket.send(get_request("/s"))) << i;
    auto response = socket.read_response();
    ASSERT_TRUE(response) << "request " << i << " was never answered";
    ASSERT_EQ(response->body, "data: x\n\n") << i;
  }
}

}  // namespace
}  // namespace tether::http
