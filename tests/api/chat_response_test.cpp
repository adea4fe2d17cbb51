#include "api/chat_response.h"

#include <gtest/gtest.h>

namespace tether::api {
namespace {

ResponseBuilder builder(ApiDialect dialect) {
  return ResponseBuilder(dialect, "demo", "chatcmpl-1", 1700000000,
                         [](int32_t id) { return "t" + std::to_string(id); });
}

CompletionOutput sample_output() {
  CompletionOutput output;
  output.content = "hello";
  output.finish_reason = "length";
  output.usage = {.prompt = 10, .cached = 8, .completion = 3};
  sampling::SampledToken token;
  token.id = 5;
  token.logprob = -0.5f;
  token.top_logprobs = {{5, -0.5f}, {7, -1.5f}};
  output.logprobs = {token};
  return output;
}

TEST(ChatResponse, ChatCompletionCarriesCachedTokensAndLogprobs) {
  boost::json::object body = builder(ApiDialect::kChatCompletions).response(sample_output());
  EXPECT_EQ(body.at("object").as_string(), "chat.completion");
  const auto& choice = body.at("choices").as_array()[0].as_object();
  EXPECT_EQ(choice.at("message").at("content").as_string(), "hello");
  EXPECT_EQ(choice.at("message").at("role").as_string(), "assistant");
  EXPECT_EQ(choice.at("finish_reason").as_string(), "length");
  const auto& lp = choice.at("logprobs").at("content").as_array()[0];
  EXPECT_EQ(lp.at("token").as_string(), "t5");
  EXPECT_DOUBLE_EQ(lp.at("logprob").as_double(), -0.5);
  EXPECT_EQ(lp.at("bytes").as_array().size(), 2u);
  EXPECT_EQ(lp.at("top_logprobs").as_array()[1].at("token").as_string(), "t7");
  const auto& usage = body.at("usage");
  EXPECT_EQ(usage.at("prompt_tokens").as_int64(), 10);
  EXPECT_EQ(usage.at("total_tokens").as_int64(), 13);
  EXPECT_EQ(usage.at("prompt_tokens_details").at("cached_tokens").as_int64(), 8);
}

TEST(ChatResponse, ToolCallsMakeContentNull) {
  CompletionOutput output;
  output.tool_calls = {{"call_1", "get_weather", R"({"city":"Paris"})"}};
  output.finish_reason = "tool_calls";
  boost::json::object body = builder(ApiDialect::kChatCompletions).response(output);
  const auto& message = body.at("choices").as_array()[0].at("message");
  EXPECT_TRUE(message.at("content").is_null());
  const auto& call = message.at("tool_calls").as_array()[0];
  EXPECT_EQ(call.at("function").at("name").as_string(), "get_weather");
  EXPECT_EQ(call.at("function").at("arguments").as_string(), R"({"city":"Paris"})");
  EXPECT_EQ(call.at("type").as_string(), "function");

  boost::json::object workers = builder(ApiDialect::kWorkersAi).response(output);
  EXPECT_TRUE(workers.at("success").as_bool());
  const auto& wcall = workers.at("result").at("tool_calls").as_array()[0];
  EXPECT_EQ(wcall.at("arguments").at("city").as_string(), "Paris");  // an object, Workers AI style
}

TEST(ChatResponse, StreamChunksInOrder) {
  ResponseBuilder b = builder(ApiDialect::kChatCompletions);
  b.set_null_usage_in_chunks(true);
  EXPECT_EQ(b.first().at("choices").as_array()[0].at("delta").at("role").as_string(), "assistant");
  EXPECT_TRUE(b.first().at("usage").is_null());
  EXPECT_EQ(b.content("he", {}).at("choices").as_array()[0].at("delta").at("content").as_string(), "he");
  auto open = b.tool_call({chat::ToolCallEvent::Kind::kCallBegin, 0, "", "call_1", "f"});
  const auto& call = open.at("choices").as_array()[0].at("delta").at("tool_calls").as_array()[0];
  EXPECT_EQ(call.at("id").as_string(), "call_1");
  EXPECT_EQ(call.at("function").at("name").as_string(), "f");
  auto more = b.tool_call({chat::ToolCallEvent::Kind::kArguments, 0, "{\"a\"", "", ""});
  const auto& frag = more.at("choices").as_array()[0].at("delta").at("tool_calls").as_array()[0];
  EXPECT_FALSE(frag.as_object().contains("id"));
  EXPECT_EQ(frag.at("function").at("arguments").as_string(), "{\"a\"");
  EXPECT_EQ(b.finish(sample_output()).at("choices").as_array()[0].at("finish_reason").as_string(), "length");
  auto usage = b.usage({3, 1, 2});
  EXPECT_TRUE(usage.at("choices").as_array().empty());
  EXPECT_EQ(usage.at("usage").at("prompt_tokens_details").at("cached_tokens").as_int64(), 1);
}

TEST(ChatResponse, CompletionsAndWorkersAiShapes) {
  boost::json::object text = builder(ApiDialect::kCompletions).response(sample_output());
  EXPECT_EQ(text.at("object").as_string(), "text_completion");
  const auto& choice = text.at("choices").as_array()[0];
  EXPECT_EQ(choice.at("text").as_string(), "hello");
  EXPECT_EQ(choice.at("logprobs").at("tokens").as_array()[0].as_string(), "t5");
  boost::json::object workers = builder(ApiDialect::kWorkersAi).response(sample_output());
  EXPECT_EQ(workers.at("result").at("response").as_string(), "hello");
  EXPECT_EQ(workers.at("result").at("usage").at("prompt_tokens_details").at("cached_tokens").as_int64(), 8);
  EXPECT_TRUE(workers.at("errors").as_array().empty());
  EXPECT_EQ(builder(ApiDialect::kWorkersAi).content("x", {}).at("response").as_string(), "x");
}

TEST(ChatResponse, RandomIds) {
  std::string a = random_id("call_"), b = random_id("call_");
  EXPECT_EQ(a.size(), 29u);
  EXPECT_EQ(a.substr(0, 5), "call_");
  EXPECT_NE(a, b);
}

}  // namespace
}  // namespace tether::api
