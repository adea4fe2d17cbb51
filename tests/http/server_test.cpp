#include "http/server.h"

#include <atomic>
#include <future>
#include <thread>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "common/error.h"
#include "http/event_channel.h"
#include "http/json_body.h"
#include "http/test_server.h"

namespace tether::http {
namespace {

using namespace std::chrono_literals;
using testing::RawSocket;
using testing::TestServer;
using testing::get_request;
using testing::post_request;
using testing::raw_request;

void add_echo_routes(Router& router) {
  router.add("GET", "/health", [](Exchange& exchange) -> boost::asio::awaitable<void> {
    co_await exchange.respond(200, "ok");
  });
  router.add("POST", "/echo", [](Exchange& exchange) -> boost::asio::awaitable<void> {
    co_await exchange.respond(200, exchange.request().body);
  });
  router.add("GET", "/query", [](Exchange& exchange) -> boost::asio::awaitable<void> {
    co_await exchange.respond(200, std::string(exchange.request().query_param("q").value_or("<none>")));
  });
  router.add("POST", "/ai/run/{model...}", [](Exchange& exchange) -> boost::asio::awaitable<void> {
    co_await exchange.respond(200, std::string(exchange.request().path_param("model")));
  });
  router.add("POST", "/json", [](Exchange& exchange) -> boost::asio::awaitable<void> {
    boost::json::object body = parse_json_object_body(exchange.request());
    co_await exchange.respond_json(200, body);
  });
}

class ServerTest : public ::testing::Test {
 protected:
  void start(ServerOptions options = TestServer::quiet_options()) {
    server_ = std::make_unique<TestServer>(std::move(options), &metrics_);
    add_echo_routes(server_->router());
    add_routes(server_->router());
    server_->start();
  }
  virtual void add_routes(Router&) {}
  uint16_t port() const { return server_->port(); }

  metrics::Registry metrics_;
  std::unique_ptr<TestServer> server_;
};

TEST_F(ServerTest, RoutesWithParamsQueryAndCatchAll) {
  start();
  auto model = raw_request(port(), post_request("/ai/run/@cf/meta/llama-3.1-8b-instruct", "{}"));
  ASSERT_TRUE(model);
  EXPECT_EQ(model->status, 200);
  EXPECT_EQ(model->body, "@cf/meta/llama-3.1-8b-instruct");
  auto query = raw_request(port(), get_request("/query?x=1&q=hello%20world%26more"));
  ASSERT_TRUE(query);
  EXPECT_EQ(query->body, "hello world&more");
}

TEST_F(ServerTest, UnknownRouteIs404AndWrongMethodIs405WithAllow) {
  start();
  auto missing = raw_request(port(), get_request("/nope"));
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  boost::json::value body = boost::json::parse(missing->body);
  EXPECT_EQ(body.at("error").at("type"), "invalid_request_error");
  EXPECT_TRUE(body.at("error").at("message").as_string().starts_with("no route for GET /nope"));
  EXPECT_TRUE(body.at("error").at("param").is_null());
  EXPECT_EQ(missing->header("content-type"), "application/json");

  auto wrong = raw_request(port(), get_request("/echo"));
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 405);
  EXPECT_EQ(wrong->header("allow"), "POST");
}

TEST_F(ServerTest, ApiKeyGuardsEveryRouteButHealth) {
  ServerOptions options = TestServer::quiet_options();
  options.api_key = "sekret";
  start(options);
  EXPECT_EQ(raw_request(port(), get_request("/health"))->status, 200);
  auto missing = raw_request(port(), post_request("/echo", "x"));
  EXPECT_EQ(missing->status, 401);
  EXPECT_EQ(boost::json::parse(missing->body).at("error").at("code"), "invalid_api_key");
  EXPECT_EQ(raw_request(port(), post_request("/echo", "x", "Authorization: Bearer wrong\r\n"))->status, 401);
  EXPECT_EQ(raw_request(port(), post_request("/echo", "x", "Authorization: Bearer sekretX\r\n"))->status, 401);
  EXPECT_EQ(raw_request(port(), post_request("/echo", "x", "Authorization: Basic sekret\r\n"))->status, 401);
  EXPECT_EQ(raw_request(port(), post_request("/echo", "x", "authorization: bearer sekret\r\n"))->status, 200);
  EXPECT_EQ(raw_request(port(), get_request("/nope", "Authorization: Bearer sekret\r\n"))->status, 404);
}

TEST_F(ServerTest, ExtraApiKeysAreAcceptedTooWithOrWithoutTheMainKey) {
  ServerOptions options = TestServer::quiet_options();
  options.extra_api_keys = {"tenant-a", "tenant-b"};
  start(options);
  EXPECT_EQ(raw_request(port(), post_request("/echo", "x"))->status, 401);
  EXPECT_EQ(raw_request(port(), post_request("/echo", "x", "Authorization: Bearer tenant-b\r\n"))->status, 200);
  EXPECT_EQ(raw_request(port(), post_request("/echo", "x", "Authorization: Bearer tenant-c\r\n"))->status, 401);
  server_.reset();
  options.api_key = "main";
  start(options);
  EXPECT_EQ(raw_request(port(), post_request("/echo", "x", "Authorization: Bearer main\r\n"))->status, 200);
  EXPECT_EQ(raw_request(port(), post_request("/echo", "x", "Authorization: Bearer  tenant-a \r\n"))->status, 200);
  EXPECT_EQ(raw_request(port(), post_request("/echo", "x", "Authorization: Bearer tenant\r\n"))->status, 401);
}

TEST_F(ServerTest, RequestIdIsEchoedOrGeneratedAndAffinityEchoed) {
  start();
  auto echoed = raw_request(port(), get_request("/health", "X-Request-Id: abc-123\r\nx-session-affinity: ses_9\r\n"));
  EXPECT_EQ(echoed->header("x-request-id"), "abc-123");
  EXPECT_EQ(echoed->header("x-session-affinity"), "ses_9");
  auto generated = raw_request(port(), get_request("/health"));
  EXPECT_EQ(generated->header("x-request-id").size(), 36u);
  EXPECT_TRUE(generated->header("x-session-affinity").empty());
  auto other = raw_request(port(), get_request("/health"));
  EXPECT_NE(other->header("x-request-id"), generated->header("x-request-id"));
  auto insane = raw_request(port(), get_request("/health", "x-request-id: has space<script>\r\n"));
  EXPECT_NE(insane->header("x-request-id"), "has space<script>");
  EXPECT_TRUE(insane->header("x-request-id").starts_with("req_"));
  // Errors carry it too.
  EXPECT_EQ(raw_request(port(), get_request("/nope", "x-request-id: r404\r\n"))->header("x-request-id"), "r404");
}

TEST_F(ServerTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  start();
  RawSocket socket(port());
  for (int request_idx = 0; request_idx < 5; ++request_idx) {
    const std::string body = "body-" + std::to_string(request_idx);
    ASSERT_TRUE(socket.send(post_request("/echo", body)));
    auto response = socket.read_response();
    ASSERT_TRUE(response);
    EXPECT_EQ(response->status, 200);
    EXPECT_EQ(response->body, body);
    EXPECT_EQ(response->header("connection"), "keep-alive");
  }
  // Pipelined: two requests in one write.
  ASSERT_TRUE(socket.send(post_request("/echo", "one") + post_request("/echo", "two")));
  EXPECT_EQ(socket.read_response()->body, "one");
  EXPECT_EQ(socket.read_response()->body, "two");
  // Connection: close is honoured.
  ASSERT_TRUE(socket.send(get_request("/health", "Connection: close\r\n")));
  auto last = socket.read_response();
  EXPECT_EQ(last->header("connection"), "close");
  EXPECT_TRUE(socket.wait_closed(2s));
}

TEST_F(ServerTest, MalformedRequestsGet400) {
  start();
  auto garbage = raw_request(port(), "THIS IS NOT HTTP\r\n\r\n");
  ASSERT_TRUE(garbage);
  EXPECT_EQ(garbage->status, 400);
  EXPECT_TRUE(garbage->closed);
  auto bad_header = raw_request(port(), "GET /health HTTP/1.1\r\nHost test\r\n\r\n");
  EXPECT_EQ(bad_header->status, 400);
  auto bad_length = raw_request(port(), "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: abc\r\n\r\n");
  EXPECT_EQ(bad_length->status, 400);
  auto bad_chunk = raw_request(port(), "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n");
  EXPECT_EQ(bad_chunk->status, 400);
  auto bad_target = raw_request(port(), "GET http://x/%zz HTTP/1.1\r\nHost: t\r\n\r\n");
  EXPECT_EQ(bad_target->status, 400);
}

TEST_F(ServerTest, InvalidJsonIs400NamingTheProblem) {
  start();
  auto broken = raw_request(port(), post_request("/json", "{\"a\": [1, 2,}"));
  EXPECT_EQ(broken->status, 400);
  const std::string message(boost::json::parse(broken->body).at("error").at("message").as_string());
  EXPECT_NE(message.find("invalid JSON body"), std::string::npos) << message;
  EXPECT_NE(message.find("at byte 12"), std::string::npos) << message;
  EXPECT_EQ(raw_request(port(), post_request("/json", ""))->status, 400);
  EXPECT_EQ(raw_request(port(), post_request("/json", "[1]"))->status, 400);
  EXPECT_EQ(raw_request(port(), post_request("/json", std::string(10000, '[')))->status, 400);
  EXPECT_EQ(raw_request(port(), post_request("/json", "{\"a\":1} trailing"))->status, 400);
  EXPECT_EQ(raw_request(port(), post_request("/json", "{\"a\":1}"))->body, "{\"a\":1}");
}

TEST_F(ServerTest, BodyOverTheLimitIs413) {
  ServerOptions options = TestServer::quiet_options();
  options.max_body_bytes = 1000;
  start(options);
  // Declared too large: refused before the body is read.
  RawSocket declared(port());
  declared.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100000000\r\n\r\n");
  auto refused = declared.read_response();
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 413);
  EXPECT_TRUE(refused->closed);
  EXPECT_EQ(boost::json::parse(refused->body).at("error").at("type"), "invalid_request_error");
  // Chunked past the limit.
  std::string chunked = "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int chunk_idx = 0; chunk_idx < 3; ++chunk_idx) chunked += "1f4\r\n" + std::string(500, 'x') + "\r\n";
  chunked += "0\r\n\r\n";
  EXPECT_EQ(raw_request(port(), chunked)->status, 413);
  EXPECT_EQ(raw_request(port(), post_request("/echo", std::string(1000, 'y')))->status, 200);
}

TEST_F(ServerTest, HeaderFloodIs431) {
  ServerOptions options = TestServer::quiet_options();
  options.max_header_bytes = 4096;
  start(options);
  std::string flood = "GET /health HTTP/1.1\r\nHost: t\r\n";
  for (int header_idx = 0; header_idx < 500; ++header_idx) flood += "X-Flood-" + std::to_string(header_idx) + ": aaaaaaaa\r\n";
  flood += "\r\n";
  auto response = raw_request(port(), flood);
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 431);
  auto long_line = raw_request(port(), "GET /" + std::string(8000, 'a') + " HTTP/1.1\r\nHost: t\r\n\r\n");
  EXPECT_EQ(long_line->status, 431);
}

TEST_F(ServerTest, SlowLorisIsCutOffByTheHeaderTimeout) {
  ServerOptions options = TestServer::quiet_options();
  options.header_timeout = 300ms;
  start(options);
  RawSocket socket(port());
  const std::string request = get_request("/health", "X-Padding: " + std::string(200, 'p') + "\r\n");
  const auto begin = std::chrono::steady_clock::now();
  bool cut_off = false;
  // One byte every 20 ms: each byte arrives well within any per-read timeout,
  // but the whole header takes seconds.
  for (char c : request) {
    if (!socket.send(std::string_view(&c, 1))) {
      cut_off = true;
      break;
    }
    if (socket.wait_closed(20ms)) {
      cut_off = true;
      break;
    }
  }
  const auto elapsed = std::chrono::steady_clock::now() - begin;
  EXPECT_TRUE(cut_off);
  EXPECT_LT(elapsed, 2s);
  EXPECT_GE(elapsed, 250ms);
}

TEST_F(ServerTest, SlowBodyIsCutOffAndIdleConnectionsClose) {
  ServerOptions options = TestServer::quiet_options();
  options.body_timeout = 300ms;
  options.idle_timeout = 300ms;
  start(options);
  RawSocket slow(port());
  slow.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nonly a little");
  EXPECT_TRUE(slow.wait_closed(2s));

  RawSocket idle(port());
  idle.send(get_request("/health"));
  EXPECT_EQ(idle.read_response()->status, 200);
  const auto begin = std::chrono::steady_clock::now();
  EXPECT_TRUE(idle.wait_closed(2s));
  EXPECT_GE(std::chrono::steady_clock::now() - begin, 250ms);
}

TEST_F(ServerTest, ConnectionsPastTheLimitGet503) {
  ServerOptions options = TestServer::quiet_options();
  options.max_connections = 2;
  start(options);
  RawSocket first(port());
  RawSocket second(port());
  // Make sure both are admitted before the third arrives.
  first.send(get_request("/health"));
  second.send(get_request("/health"));
  ASSERT_EQ(first.read_response()->status, 200);
  ASSERT_EQ(second.read_response()->status, 200);
  auto refused = raw_request(port(), get_request("/health"));
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 503);
  EXPECT_EQ(refused->header("retry-after"), "1");
  first.close();
  // The slot frees: a new connection is served again.
  bool served = false;
  for (int attempt = 0; attempt < 50 && !served; ++attempt) {
    served = raw_request(port(), get_request("/health"))->status == 200;
    if (!served) std::this_thread::sleep_for(20ms);
  }
  EXPECT_TRUE(served);
}

// Handler errors map to statuses in one place.
class ServerErrorTest : public ServerTest {
  void add_routes(Router& router) override {
    router.add("GET", "/invalid", [](Exchange&) -> boost::asio::awaitable<void> {
      throw_error(ErrorCode::kInvalidArgument, "field 'x' must be a number");
      co_return;
    });
    router.add("GET", "/missing", [](Exchange&) -> boost::asio::awaitable<void> {
      throw_error(ErrorCode::kNotFound, "model 'm' is not served");
      co_return;
    });
    router.add("GET", "/full", [](Exchange&) -> boost::asio::awaitable<void> {
      throw HttpError::too_many_requests("the engine is full", 2);
      co_return;
    });
    router.add("GET", "/bug", [](Exchange&) -> boost::asio::awaitable<void> {
      throw std::logic_error("oops");
      co_return;
    });
    router.add("GET", "/silent", [](Exchange&) -> boost::asio::awaitable<void> { co_return; });
  }
};

TEST_F(ServerErrorTest, ErrorsMapToStatuses) {
  start();
  auto invalid = raw_request(port(), get_request("/invalid"));
  EXPECT_EQ(invalid->status, 400);
  EXPECT_EQ(boost::json::parse(invalid->body).at("error").at("message"), "field 'x' must be a number");
  EXPECT_EQ(raw_request(port(), get_request("/missing"))->status, 404);
  auto full = raw_request(port(), get_request("/full"));
  EXPECT_EQ(full->status, 429);
  EXPECT_EQ(full->header("retry-after"), "2");
  EXPECT_EQ(boost::json::parse(full->body).at("error").at("type"), "rate_limit_error");
  EXPECT_EQ(raw_request(port(), get_request("/bug"))->status, 500);
  EXPECT_EQ(raw_request(port(), get_request("/silent"))->status, 500);
  // The connection survives a handler's error.
  RawSocket socket(port());
  socket.send(get_request("/invalid") + get_request("/health"));
  EXPECT_EQ(socket.read_response()->status, 400);
  EXPECT_EQ(socket.read_response()->status, 200);
}

TEST_F(ServerTest, MetricsCountRequestsByRoutePattern) {
  start();
  raw_request(port(), post_request("/ai/run/@cf/a/b", "{}"));
  raw_request(port(), post_request("/ai/run/@cf/c/d", "{}"));
  raw_request(port(), get_request("/nope"));
  // The server records after the last byte is written: give it a moment.
  std::string text;
  for (int attempt = 0; attempt < 100; ++attempt) {
    text = metrics_.expose();
    if (text.find("status=\"404\"") != std::string::npos) break;
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_NE(text.find("tether_http_requests_total{route=\"/ai/run/{model...}\",method=\"POST\",status=\"200\"} 2"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("tether_http_requests_total{route=\"unmatched\",method=\"GET\",status=\"404\"} 1"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("tether_http_request_duration_seconds_count{route=\"/ai/run/{model...}\",method=\"POST\"} 2"),
            std::string::npos)
      << text;
}

}  // namespace
}  // namespace tether::http
