#include "api/api_service.h"

#include <chrono>
#include <thread>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include "../http/test_server.h"
#include "../sched/engine_test_support.h"

namespace tether::api {
namespace {

using tether::testing::RawResponse;
using tether::testing::RawSocket;
using tether::testing::TestServer;

// The tiny model served under "tiny" (alias "@cf/test/tiny") through the
// whole HTTP stack, on port 0.
class ApiServiceTest : public ::testing::Test {
 protected:
  static sched::EngineOptions engine_options() {
    sched::EngineOptions options;
    options.threads = 1;
    options.kv_memory_bytes = size_t{16} << 20;
    return options;
  }

  void start(sched::EngineOptions options = engine_options()) {
    served_ = make_served_model(sched::testing::tiny_model_file(), "tiny", {"@cf/test/tiny"}, options);
    registry_ = std::make_unique<metrics::Registry>();
    service_ = std::make_unique<ApiService>(std::vector<std::shared_ptr<ServedModel>>{served_}, registry_.get());
    server_ = std::make_unique<TestServer>(TestServer::quiet_options(), registry_.get());
    service_->register_routes(server_->router());
    server_->router().add("GET", "/metrics", [this](http::Exchange& exchange) -> boost::asio::awaitable<void> {
      co_await exchange.respond(200, registry_->expose(), metrics::Registry::kContentType);
    });
    server_->start();
  }
  void SetUp() override { start(); }
  void TearDown() override {
    server_.reset();
    service_.reset();
  }

  RawResponse post(const std::string& path, const std::string& body) {
    auto response = tether::testing::raw_request(server_->port(), tether::testing::post_request(path, body));
    EXPECT_TRUE(response.has_value());
    return response.value_or(RawResponse{});
  }
  boost::json::value post_json(const std::string& path, const std::string& body, int expected_status = 200) {
    RawResponse response = post(path, body);
    EXPECT_EQ(response.status, expected_status) << response.body;
    return boost::json::parse(response.body);
  }
  // The data: payloads of an SSE response, in order.
  std::vector<std::string> events(const std::string& path, const std::string& body) {
    RawResponse response = post(path, body);
    EXPECT_EQ(response.status, 200) << response.body;
    EXPECT_EQ(response.header("content-type"), "text/event-stream");
    std::vector<std::string> out;
    size_t at = 0;
    while ((at = response.body.find("data: ", at)) != std::string::npos) {
      size_t end = response.body.find("\n\n", at);
      out.push_back(response.body.substr(at + 6, end - at - 6));
      at = end;
    }
    return out;
  }

  std::unique_ptr<metrics::Registry> registry_;
  std::shared_ptr<ServedModel> served_;
  std::unique_ptr<ApiService> service_;
  std::unique_ptr<TestServer> server_;
};

// Long enough (> 2 blocks of 16 tokens) for a repeat to find cached blocks.
constexpr const char* kHello =
    R"("messages": [{"role": "system", "content": "You are a helpful assistant who answers briefly and precisely."},
                    {"role": "user", "content": "Hello there"}])";

TEST_F(ApiServiceTest, ChatCompletionWholeAndStreamedAgree) {
  const std::string body = std::string(R"({"model": "tiny", "max_tokens": 9, "temperature": 0, )") + kHello + "}";
  boost::json::value whole = post_json("/v1/chat/completions", body);
  const auto& choice = whole.at("choices").as_array()[0];
  const std::string content(choice.at("message").at("content").as_string());
  EXPECT_EQ(choice.at("finish_reason").as_string(), "length");
  EXPECT_EQ(whole.at("usage").at("completion_tokens").as_int64(), 9);
  EXPECT_TRUE(whole.at("usage").at("prompt_tokens_details").at("cached_tokens").is_int64());

  std::vector<std::string> stream = events(
      "/v1/chat/completions",
      std::string(R"({"model": "tiny", "max_tokens": 9, "temperature": 0, "stream": true,
                      "stream_options": {"include_usage": true}, )") + kHello + "}");
  ASSERT_GE(stream.size(), 4u);
  EXPECT_EQ(stream.back(), "[DONE]");
  auto first = boost::json::parse(stream[0]);
  EXPECT_EQ(first.at("choices").as_array()[0].at("delta").at("role").as_string(), "assistant");
  std::string streamed;
  std::string finish;
  for (size_t i = 0; i + 2 < stream.size(); ++i) {
    auto chunk = boost::json::parse(stream[i]);
    EXPECT_EQ(chunk.at("object").as_string(), "chat.completion.chunk");
    EXPECT_TRUE(chunk.at("usage").is_null());
    const auto& c = chunk.at("choices").as_array()[0];
    if (const auto* text = c.at("delta").as_object().if_contains("content")) streamed += text->as_string();
    if (c.at("finish_reason").is_string()) finish = c.at("finish_reason").as_string();
  }
  EXPECT_EQ(streamed, content);
  EXPECT_EQ(finish, "length");
  auto usage = boost::json::parse(stream[stream.size() - 2]);
  EXPECT_TRUE(usage.at("choices").as_array().empty());
  EXPECT_EQ(usage.at("usage").at("completion_tokens").as_int64(), 9);
  // The second identical prompt found its prefix cached.
  EXPECT_GT(usage.at("usage").at("prompt_tokens_details").at("cached_tokens").as_int64(), 0);
}

TEST_F(ApiServiceTest, ErrorsAreOpenAiShaped) {
  auto unknown = post_json("/v1/chat/completions",
                           std::string(R"({"model": "nope", )") + kHello + "}", 400);
  EXPECT_EQ(unknown.at("error").at("code").as_string(), "model_not_found");
  EXPECT_EQ(unknown.at("error").at("param").as_string(), "model");
  auto n = post_json("/v1/chat/completions", std::string(R"({"model": "tiny", "n": 3, )") + kHello + "}", 400);
  EXPECT_EQ(n.at("error").at("param").as_string(), "n");
  auto bad_json = post_json("/v1/chat/completions", R"({"model": "tiny", )", 400);
  EXPECT_EQ(bad_json.at("error").at("type").as_string(), "invalid_request_error");
  // A prompt past the context: the message gives both numbers.
  std::string long_text;
  for (int i = 0; i < 3000; ++i) long_text += "word ";
  auto too_long = post_json("/v1/chat/completions",
                            R"({"model": "tiny", "messages": [{"role": "user", "content": ")" + long_text + "\"}]}",
                            400);
  const std::string message(too_long.at("error").at("message").as_string());
  EXPECT_NE(message.find(std::to_string(served_->model->config().context_length)), std::string::npos) << message;
  EXPECT_EQ(too_long.at("error").at("code").as_string(), "context_length_exceeded");
}

TEST_F(ApiServiceTest, JsonSchemaOutputValidates) {
  const std::string body = std::string(R"({"model": "tiny", "max_tokens": 200, "temperature": 1, "seed": 4,
      "response_format": {"type": "json_schema", "json_schema": {"name": "p", "strict": true, "schema":
        {"type": "object", "properties": {"n": {"type": "integer"}, "k": {"type": "string", "enum": ["x", "y"]}},
         "required": ["n", "k"], "additionalProperties": false}}}, )") + kHello + "}";
  auto response = post_json("/v1/chat/completions", body);
  const auto& choice = response.at("choices").as_array()[0];
  EXPECT_EQ(choice.at("finish_reason").as_string(), "stop");
  auto value = boost::json::parse(choice.at("message").at("content").as_string());
  EXPECT_TRUE(value.at("n").is_int64());
  EXPECT_TRUE(value.at("k").as_string() == "x" || value.at("k").as_string() == "y");
  EXPECT_EQ(value.as_object().size(), 2u);
}

TEST_F(ApiServiceTest, ForcedToolCallsParseIntoToolCalls) {
  const std::string tools = R"("tools": [{"type": "function", "function": {"name": "lookup", "parameters":
      {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"], "additionalProperties": false}}},
      {"type": "function", "function": {"name": "other", "parameters": {"type": "object", "properties": {}, "additionalProperties": false}}}])";
  for (const char* choice : {R"("required")", R"({"type": "function", "function": {"name": "lookup"}})"}) {
    auto response = post_json("/v1/chat/completions",
                              std::string(R"({"model": "tiny", "max_tokens": 120, "temperature": 1, "seed": 2,
                                             "parallel_tool_calls": false, "tool_choice": )") +
                                  choice + ", " + tools + ", " + kHello + "}");
    const auto& c = response.at("choices").as_array()[0];
    EXPECT_EQ(c.at("finish_reason").as_string(), "tool_calls") << choice;
    const auto& calls = c.at("message").at("tool_calls").as_array();
    ASSERT_EQ(calls.size(), 1u) << boost::json::serialize(response);
    const std::string name(calls[0].at("function").at("name").as_string());
    EXPECT_TRUE(name == "lookup" || name == "other");
    if (std::string(choice).find("lookup") != std::string::npos) {
      EXPECT_EQ(name, "lookup");
    }
    const std::string arguments(calls[0].at("function").at("arguments").as_string());
    boost::system::error_code ec;
    auto args = boost::json::parse(arguments, ec);
    ASSERT_FALSE(ec) << arguments << "\n" << boost::json::serialize(response);
    if (name == "lookup") {
      EXPECT_TRUE(args.at("q").is_string());
    }
  }
}

TEST_F(ApiServiceTest, WorkersAiRouteAndAliases) {
  auto response = post_json("/ai/run/@cf/test/tiny", R"({"prompt": "Hi", "max_tokens": 5})");
  EXPECT_TRUE(response.at("success").as_bool());
  EXPECT_TRUE(response.at("result").at("response").is_string());
  EXPECT_EQ(response.at("result").at("usage").at("completion_tokens").as_int64(), 5);
  auto account = post_json("/accounts/abc/ai/run/@cf/test/tiny",
                           R"({"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 3})");
  EXPECT_TRUE(account.at("success").as_bool());
  std::vector<std::string> stream =
      events("/ai/run/tiny", R"({"prompt": "Hi", "max_tokens": 4, "stream": true})");
  ASSERT_GE(stream.size(), 2u);
  EXPECT_EQ(stream.back(), "[DONE]");
  EXPECT_TRUE(boost::json::parse(stream[0]).as_object().contains("response"));
  auto unknown = post_json("/ai/run/@cf/none", R"({"prompt": "Hi"})", 400);
  EXPECT_FALSE(unknown.at("success").as_bool());
  EXPECT_EQ(unknown.at("errors").as_array()[0].at("code").as_int64(), 400);
  EXPECT_TRUE(unknown.at("result").is_null());
  auto models = boost::json::parse(tether::testing::raw_request(server_->port(),
                                                                 tether::testing::get_request("/v1/models"))->body);
  EXPECT_EQ(models.at("data").as_array().size(), 2u);
}

TEST_F(ApiServiceTest, CompletionsEndpoint) {
  auto response = post_json("/v1/completions", R"({"model": "tiny", "prompt": "Once upon", "max_tokens": 4, "logprobs": 2})");
  EXPECT_EQ(response.at("object").as_string(), "text_completion");
  const auto& choice = response.at("choices").as_array()[0];
  EXPECT_EQ(choice.at("logprobs").at("tokens").as_array().size(), 4u);
}

TEST_F(ApiServiceTest, ClientDisconnectCancelsGeneration) {
  RawSocket socket(server_->port());
  const std::string body = std::string(R"({"model": "tiny", "max_tokens": 100000, "ignore_eos": true,
                                           "stream": true, )") + kHello + "}";
  ASSERT_TRUE(socket.send(tether::testing::post_request("/v1/chat/completions", body)));
  ASSERT_TRUE(socket.read_head().has_value());
  ASSERT_TRUE(socket.read_chunk().has_value());
  ASSERT_TRUE(socket.read_chunk().has_value());
  socket.reset();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (served_->engines[0]->stats().cancelled == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(served_->engines[0]->stats().cancelled, 1u);
  EXPECT_EQ(served_->engines[0]->stats().running, 0);
}

TEST_F(ApiServiceTest, PriorityHeaderMakesTheRequestAsyncInTheEngine) {
  const sched::Engine& engine = *served_->engines[0];
  const auto wait_for = [&](auto done) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!done(engine.stats()) && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return engine.stats();
  };
  const std::string body = std::string(R"({"model": "tiny", "max_tokens": 100000, "ignore_eos": true,
                                           "stream": true, )") + kHello + "}";
  {
    RawSocket socket(server_->port());
    ASSERT_TRUE(socket.send(tether::testing::post_request("/v1/chat/completions", body,
                                                          "x-tether-priority: Async\r\n")));
    ASSERT_TRUE(socket.read_head().has_value());
    ASSERT_TRUE(socket.read_chunk().has_value());
    const sched::EngineStats stats = wait_for([](const sched::EngineStats& s) { return s.running_async == 1; });
    EXPECT_EQ(stats.running, 1);
    EXPECT_EQ(stats.running_async, 1);
    socket.reset();
    wait_for([](const sched::EngineStats& s) { return s.running == 0; });
  }
  {
    // Explicitly interactive (and absent, the default) is not async.
    RawSocket socket(server_->port());
    ASSERT_TRUE(socket.send(tether::testing::post_request("/v1/chat/completions", body,
                                                          "x-tether-priority: interactive\r\n")));
    ASSERT_TRUE(socket.read_head().has_value());
    ASSERT_TRUE(socket.read_chunk().has_value());
    const sched::EngineStats stats = wait_for([](const sched::EngineStats& s) { return s.running == 1; });
    EXPECT_EQ(stats.running, 1);
    EXPECT_EQ(stats.running_async, 0);
    socket.reset();
    wait_for([](const sched::EngineStats& s) { return s.running == 0; });
  }
  const std::string small = std::string(R"({"model": "tiny", "max_tokens": 2, )") + kHello + "}";
  RawResponse bad = tether::testing::raw_request(
                        server_->port(), tether::testing::post_request("/v1/chat/completions", small,
                                                                       "x-tether-priority: urgent\r\n"))
                        .value_or(RawResponse{});
  EXPECT_EQ(bad.status, 400) << bad.body;
  auto error = boost::json::parse(bad.body);
  EXPECT_EQ(error.at("error").at("param").as_string(), "x-tether-priority");
  EXPECT_NE(std::string(error.at("error").at("message").as_string()).find("'urgent'"), std::string::npos);
  // Workers AI answers it in its own envelope.
  RawResponse workers = tether::testing::raw_request(
                            server_->port(), tether::testing::post_request("/ai/run/tiny", R"({"prompt": "Hi"})",
                                                                           "x-tether-priority: later\r\n"))
                            .value_or(RawResponse{});
  EXPECT_EQ(workers.status, 400) << workers.body;
  EXPECT_FALSE(boost::json::parse(workers.body).at("success").as_bool());
  EXPECT_EQ(engine.stats().submitted, 2u);  // the bad ones never reached it
}

TEST_F(ApiServiceTest, FullEngineAnswers429WithRetryAfter) {
  TearDown();
  sched::EngineOptions options = engine_options();
  options.max_running = 1;
  options.max_queued = 1;
  start(options);
  const std::string body = std::string(R"({"model": "tiny", "max_tokens": 100000, "ignore_eos": true,
                                           "stream": true, )") + kHello + "}";
  RawSocket a(server_->port()), b(server_->port());
  ASSERT_TRUE(a.send(tether::testing::post_request("/v1/chat/completions", body)));
  ASSERT_TRUE(a.read_head().has_value());
  ASSERT_TRUE(a.read_chunk().has_value());  // the role chunk
  ASSERT_TRUE(a.read_chunk().has_value());  // a token: a runs, the queue is empty
  ASSERT_TRUE(b.send(tether::testing::post_request("/v1/chat/completions", body)));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (served_->engines[0]->stats().waiting == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_EQ(served_->engines[0]->stats().waiting, 1);  // b waits behind a
  RawResponse full = post("/v1/chat/completions", body);
  EXPECT_EQ(full.status, 429) << full.body;
  EXPECT_FALSE(full.header("retry-after").empty());
  a.reset();
  b.reset();
}

TEST_F(ApiServiceTest, MetricsCountTokensAndTtft) {
  post_json("/v1/chat/completions", std::string(R"({"model": "tiny", "max_tokens": 3, )") + kHello + "}");
  auto metrics = tether::testing::raw_request(server_->port(), tether::testing::get_request("/metrics"));
  ASSERT_TRUE(metrics.has_value());
  const std::string& text = metrics->body;
  EXPECT_NE(text.find("gen_ai_server_time_to_first_token_seconds_count{model=\"tiny\"} 1"), std::string::npos) << text;
  EXPECT_NE(text.find("tether_tokens_total{model=\"tiny\",type=\"completion\"} 3"), std::string::npos);
  EXPECT_NE(text.find("tether_kv_blocks{model=\"tiny\",replica=\"local-0\",state=\"free\"}"), std::string::npos);
  EXPECT_NE(text.find("tether_prefix_cache_hit_ratio{model=\"tiny\",replica=\"local-0\"}"), std::string::npos);
}

}  // namespace
}  // namespace tether::api
