#include "api/chat_request.h"

#include <cmath>

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include "api/invalid_param.h"

namespace tether::api {
namespace {

ChatRequest chat(std::string_view json) { return parse_chat_completion_request(boost::json::parse(json)); }

// The http::HttpError a body raises (fails the test when none).
http::HttpError chat_error(std::string_view json) {
  try {
    chat(json);
  } catch (const http::HttpError& error) {
    return error;
  }
  ADD_FAILURE() << "no error for " << json;
  return http::HttpError(0, "none");
}

TEST(ChatRequest, ReadsEveryOpenAiField) {
  ChatRequest request = chat(R"({
    "model": "demo", "messages": [{"role": "system", "content": "be brief"},
                                  {"role": "user", "content": [{"type": "text", "text": "hi"}]}],
    "max_completion_tokens": 7, "temperature": 0.5, "top_p": 0.9, "seed": 42,
    "stop": ["\n\n", "END"], "n": 1, "presence_penalty": 0.5, "frequency_penalty": -0.5,
    "logit_bias": {"17": 5, "3": -100}, "logprobs": true, "top_logprobs": 3, "user": "u1",
    "response_format": {"type": "json_schema", "json_schema": {"name": "x", "strict": true,
                        "schema": {"type": "object"}}},
    "tools": [{"type": "function", "function": {"name": "f"}}], "tool_choice": "required",
    "parallel_tool_calls": false, "stream": true, "stream_options": {"include_usage": true},
    "top_k": 40, "min_p": 0.05, "ignore_eos": true, "cache_salt": "tenant-a", "unknown": 1})");
  EXPECT_EQ(request.model, "demo");
  EXPECT_TRUE(request.chat);
  EXPECT_EQ(request.messages.size(), 2u);
  EXPECT_EQ(request.max_tokens, 7);
  EXPECT_FLOAT_EQ(request.sampling.temperature, 0.5f);
  EXPECT_FLOAT_EQ(request.sampling.top_p, 0.9f);
  EXPECT_EQ(request.sampling.seed, 42u);
  EXPECT_EQ(request.stop, (std::vector<std::string>{"\n\n", "END"}));
  EXPECT_FLOAT_EQ(request.sampling.presence_penalty, 0.5f);
  EXPECT_FLOAT_EQ(request.sampling.frequency_penalty, -0.5f);
  ASSERT_EQ(request.sampling.logit_bias.size(), 2u);
  EXPECT_EQ(request.sampling.logit_bias[0], (std::pair<int32_t, float>{17, 5.0f}));
  EXPECT_TRUE(std::isinf(request.sampling.logit_bias[1].second));  // -100 bans
  EXPECT_TRUE(request.sampling.logprobs);
  EXPECT_EQ(request.sampling.n_logprobs, 3);
  EXPECT_EQ(request.user, "u1");
  EXPECT_EQ(request.response_format.type, ResponseFormatType::kJsonSchema);
  EXPECT_EQ(request.response_format.name, "x");
  EXPECT_TRUE(request.response_format.strict);
  EXPECT_TRUE(request.response_format.schema.is_object());
  EXPECT_EQ(request.tools.size(), 1u);
  EXPECT_EQ(request.tool_choice.as_string(), "required");
  EXPECT_FALSE(request.parallel_tool_calls);
  EXPECT_TRUE(request.stream);
  EXPECT_TRUE(request.include_usage);
  EXPECT_EQ(request.sampling.top_k, 40);
  EXPECT_FLOAT_EQ(request.sampling.min_p, 0.05f);
  EXPECT_TRUE(request.sampling.ignore_eos);
  EXPECT_EQ(request.cache_salt, "tenant-a");
}

TEST(ChatRequest, NullMeansAbsent) {
  ChatRequest request = chat(
      R"({"model": "m", "messages": [{"role": "user", "content": "x"}], "stop": null,
          "temperature": null, "max_tokens": null, "tools": null})");
  EXPECT_TRUE(request.stop.empty());
  EXPECT_FLOAT_EQ(request.sampling.temperature, 1.0f);
  EXPECT_FALSE(request.max_tokens.has_value());
}

TEST(ChatRequest, ErrorsNameTheParameter) {
  struct Case {
    const char* body;
    const char* param;
  };
  const Case cases[] = {
      {R"({"messages": [{"role": "user", "content": "x"}]})", "model"},
      {R"({"model": 3, "messages": [{"role": "user", "content": "x"}]})", "model"},
      {R"({"model": "m"})", "messages"},
      {R"({"model": "m", "messages": []})", "messages"},
      {R"({"model": "m", "messages": "hi"})", "messages"},
      {R"({"model": "m", "messages": [{"role": "wizard", "content": "x"}]})", "messages[0].role"},
      {R"({"model": "m", "messages": [{"role": "user"}]})", "messages[0].content"},
      {R"({"model": "m", "messages": [{"role": "user", "content": 5}]})", "messages[0].content"},
      {R"({"model": "m", "messages": [{"role": "user", "content": [{"type": "image_url"}]}]})",
       "messages[0].content[0].type"},
      {R"({"model": "m", "messages": [{"role": "user", "content": "x"}], "temperature": "hot"})",
       "temperature"},
      {R"({"model": "m", "messages": [{"role": "user", "content": "x"}], "temperature": 3})",
       "temperature"},
      {R"({"model": "m", "messages": [{"role": "user", "content": "x"}], "max_tokens": 0})",
       "max_tokens"},
      {R"({"model": "m", "messages": [{"role": "user", "content": "x"}], "max_tokens": 1.5})",
       "max_tokens"},
      {R"({"model": "m", "messages": [{"role": "user", "content": "x"}], "n": 2})", "n"},
      {R"({"model": "m", "messages": [{"role": "user", "content": "x"}], "stop": [1]})", "stop[0]"},
      {R"({"model": "m", "messages": [{"role": "user", "content": "x"}], "logit_bias": {"a": 1}})",
       "logit_bias"},
      {R"({"model": "m", "messages": [{"role": "user", "content": "x"}], "top_logprobs": 2})",
       "top_logprobs"},
      {R"({"model": "m", "messages": [{"role": "user", "content": "x"}],
           "response_format": {"type": "xml"}})", "response_format.type"},
      {R"({"model": "m", "messages": [{"role": "user", "content": "x"}],
           "response_format": {"type": "json_schema"}})", "response_format.json_schema"},
      {R"({"model": "m", "messages": [{"role": "user", "content": "x"}], "tool_choice": 4})",
       "tool_choice"},
      {R"({"model": "m", "messages": [{"role": "user", "content": "x"}], "stream": "yes"})", "stream"},
  };
  for (const Case& c : cases) {
    http::HttpError error = chat_error(c.body);
    EXPECT_EQ(error.status(), 400) << c.body;
    EXPECT_EQ(error.param(), c.param) << c.body << ": " << error.what();
    EXPECT_EQ(error.type(), "invalid_request_error");
  }
  EXPECT_EQ(chat_error("[1, 2]").status(), 400);
}

TEST(ChatRequest, AssistantMessagesWithToolCallsMayHaveNullContent) {
  ChatRequest request = chat(R"({"model": "m", "messages": [
      {"role": "user", "content": "weather?"},
      {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function",
        "function": {"name": "w", "arguments": "{}"}}]},
      {"role": "tool", "tool_call_id": "c1", "content": "sunny"}]})");
  EXPECT_EQ(request.messages.size(), 3u);
}

TEST(CompletionRequest, PromptShapes) {
  auto parse = [](std::string_view json) { return parse_completion_request(boost::json::parse(json)); };
  ChatRequest text = parse(R"({"model": "m", "prompt": "once upon"})");
  EXPECT_FALSE(text.chat);
  EXPECT_EQ(text.prompt, "once upon");
  EXPECT_EQ(text.max_tokens, 16);
  EXPECT_EQ(text.dialect, ApiDialect::kCompletions);
  EXPECT_EQ(parse(R"({"model": "m", "prompt": ["a b"]})").prompt, "a b");
  EXPECT_EQ(parse(R"({"model": "m", "prompt": [1, 2, 3], "logprobs": 2})").prompt_tokens,
            (std::vector<int32_t>{1, 2, 3}));
  EXPECT_EQ(parse(R"({"model": "m", "prompt": "x", "logprobs": 2})").sampling.n_logprobs, 2);
  for (const char* bad : {R"({"model": "m"})", R"({"model": "m", "prompt": ""})",
                          R"({"model": "m", "prompt": ["a", "b"]})",
                          R"({"model": "m", "prompt": [1, -2]})",
                          R"({"model": "m", "prompt": "x", "echo": true})",
                          R"({"model": "m", "prompt": 5})"}) {
    EXPECT_THROW(parse(bad), http::HttpError) << bad;
  }
}

TEST(WorkersAiRequest, MessagesOrPrompt) {
  auto parse = [](std::string_view json) {
    return parse_workers_ai_request(boost::json::parse(json), "@cf/x/y");
  };
  ChatRequest messages = parse(R"({"messages": [{"role": "user", "content": "hi"}], "max_tokens": 9,
      "response_format": {"type": "json_schema", "json_schema": {"type": "object"}}})");
  EXPECT_TRUE(messages.chat);
  EXPECT_EQ(messages.model, "@cf/x/y");
  EXPECT_EQ(messages.max_tokens, 9);
  EXPECT_EQ(messages.response_format.schema.at("type").as_string(), "object");
  ChatRequest prompt = parse(R"({"prompt": "tell me"})");
  EXPECT_TRUE(prompt.chat);  // rendered as a user turn
  EXPECT_EQ(prompt.messages[0].at("content").as_string(), "tell me");
  ChatRequest raw = parse(R"({"prompt": "tell me", "raw": true})");
  EXPECT_FALSE(raw.chat);
  EXPECT_EQ(raw.prompt, "tell me");
  EXPECT_EQ(prompt.max_tokens, 256);
  EXPECT_EQ(prompt.dialect, ApiDialect::kWorkersAi);
  EXPECT_THROW(parse("{}"), http::HttpError);
}

}  // namespace
}  // namespace tether::api
