#include "chat/chat_template.h"

#include <chrono>
#include <thread>
#include <vector>

#include <boost/json.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/error.h"
#include "engine/gguf/gguf_file.h"
#include "engine/gguf/gguf_writer.h"
#include "engine/model/model_maker.h"
#include "engine/tokenizer/tokenizer.h"

namespace tether::chat {
namespace {

using ::testing::HasSubstr;

ChatTemplateInput input_from(std::string_view messages_json, std::string_view tools_json = "[]") {
  ChatTemplateInput input;
  input.messages = boost::json::parse(messages_json).as_array();
  input.tools = boost::json::parse(tools_json).as_array();
  return input;
}

constexpr std::string_view kWeatherTool =
    R"([{"type": "function", "function": {"name": "get_weather", "description": "Get the weather",)"
    R"( "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}])";

TEST(ChatTemplateTest, ChatMlRendersTurnsAndTheGenerationPrompt) {
  const ChatTemplate chatml{std::string(ChatTemplate::chatml_source())};
  ChatTemplateInput input = input_from(
      R"([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},)"
      R"( {"role": "assistant", "content": "Hello."}, {"role": "user", "content": "Bye"}])");
  EXPECT_EQ(chatml.render(input),
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
            "<|im_start|>assistant\nHello.<|im_end|>\n<|im_start|>user\nBye<|im_end|>\n"
            "<|im_start|>assistant\n");
  input.add_generation_prompt = false;
  EXPECT_THAT(chatml.render(input), ::testing::EndsWith("user\nBye<|im_end|>\n"));
}

TEST(ChatTemplateTest, ChatMlOffersToolsAndRendersCallsAndResults) {
  const ChatTemplate chatml{std::string(ChatTemplate::chatml_source())};
  ChatTemplateInput input = input_from(
      R"([{"role": "user", "content": "Weather in Paris?"},)"
      R"( {"role": "assistant", "content": "", "tool_calls": [{"id": "c1", "type": "function",)"
      R"(   "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]},)"
      R"( {"role": "tool", "tool_call_id": "c1", "content": "{\"temp\": 21}"}])",
      kWeatherTool);
  EXPECT_EQ(chatml.render(input),
            "<|im_start|>system\n# Tools\n\nYou may call the functions whose JSON signatures are listed in "
            "<tools></tools>:\n<tools>\n"
            R"({"type": "function", "function": {"name": "get_weather", "description": "Get the weather", )"
            R"("parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}})"
            "\n</tools>\n\nTo call a function, reply with one JSON object per call, each inside "
            "<tool_call></tool_call> tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": "
            "<arguments-object>}\n</tool_call><|im_end|>\n"
            "<|im_start|>user\nWeather in Paris?<|im_end|>\n"
            "<|im_start|>assistant\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n"
            "</tool_call><|im_end|>\n"
            "<|im_start|>user\n<tool_response>\n{\"temp\": 21}\n</tool_response><|im_end|>\n"
            "<|im_start|>assistant\n");
}

TEST(ChatTemplateTest, ChatMlJoinsContentPartsAndConsecutiveToolResults) {
  const ChatTemplate chatml{std::string(ChatTemplate::chatml_source())};
  ChatTemplateInput input = input_from(
      R"([{"role": "user", "content": [{"type": "text", "text": "part1 "}, {"type": "image_url"},)"
      R"(   {"type": "text", "text": "part2"}]},)"
      R"( {"role": "assistant", "content": null, "tool_calls": [)"
      R"(   {"type": "function", "function": {"name": "a", "arguments": "{\"x\": 1}"}},)"
      R"(   {"type": "function", "function": {"name": "b", "arguments": {"y": [1]}}}]},)"
      R"( {"role": "tool", "content": "r1"}, {"role": "tool", "content": {"k": "v"}},)"
      R"( {"role": "assistant", "content": "done"}])");
  input.add_generation_prompt = false;
  EXPECT_EQ(chatml.render(input),
            "<|im_start|>user\npart1 part2<|im_end|>\n"
            "<|im_start|>assistant\n<tool_call>\n{\"name\": \"a\", \"arguments\": {\"x\": 1}}\n</tool_call>\n"
            "<tool_call>\n{\"name\": \"b\", \"arguments\": {\"y\": [1]}}\n</tool_call><|im_end|>\n"
            "<|im_start|>user\n<tool_response>\nr1\n</tool_response>\n<tool_response>\n{\"k\": \"v\"}\n"
            "</tool_response><|im_end|>\n<|im_start|>assistant\ndone<|im_end|>\n");
}

TEST(ChatTemplateTest, PassesTokensExtraVariablesAndNoneForAbsentTools) {
  const ChatTemplate t("{{ bos_token }}|{{ eos_token }}|{{ tools is none }}|{{ enable_thinking }}|"
                       "{{ add_generation_prompt }}|{{ messages|length }}");
  ChatTemplateInput input = input_from(R"([{"role": "user", "content": "x"}])");
  input.bos_token = "<s>";
  input.eos_token = "</s>";
  input.extra["enable_thinking"] = false;
  EXPECT_EQ(t.render(input), "<s>|</s>|True|False|True|1");
  input.tools = boost::json::parse(kWeatherTool).as_array();
  EXPECT_EQ(t.render(input), "<s>|</s>|False|False|True|1");
}

TEST(ChatTemplateTest, StrftimeNowUsesTheInjectedClock) {
  const ChatTemplate t("{{ strftime_now('%d %b %Y') }}");
  ChatTemplateInput input;
  input.now = std::chrono::sys_days{std::chrono::year{2026} / 1 / 15} + std::chrono::hours{12};
  EXPECT_EQ(t.render(input), "15 Jan 2026");
  input.now.reset();
  EXPECT_EQ(t.render(input).size(), 11u);  // today, from the system clock
}

TEST(ChatTemplateTest, TemplateErrorsAreInvalidArgument) {
  try {
    ChatTemplate bad("{% for m in messages %}");
    FAIL() << "parsed";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_THAT(e.what(), HasSubstr("endfor"));
  }
  const ChatTemplate raising("{% if messages[0].role == 'system' %}{{ raise_exception('System role not supported') }}"
                             "{% endif %}");
  try {
    raising.render(input_from(R"([{"role": "system", "content": "x"}])"));
    FAIL() << "rendered";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_THAT(e.what(), HasSubstr("System role not supported"));
  }
}

TEST(ChatTemplateTest, TemplateComesFromGgufMetadataOrFallsBackToChatMl) {
  gguf::GgufWriter with;
  with.set("general.architecture", gguf::Value::of_string("llama"));
  with.set("tokenizer.chat_template", gguf::Value::of_string("{{ messages[0].content }}!"));
  const auto file = gguf::GgufFile::from_bytes(with.write_to_memory());
  const ChatTemplate own = chat_template_for(file);
  EXPECT_EQ(own.source(), "{{ messages[0].content }}!");
  EXPECT_EQ(own.render(input_from(R"([{"role": "user", "content": "hey"}])")), "hey!");

  gguf::GgufWriter without;
  without.set("general.architecture", gguf::Value::of_string("llama"));
  const auto bare = gguf::GgufFile::from_bytes(without.write_to_memory());
  EXPECT_EQ(chat_template_for(bare).source(), ChatTemplate::chatml_source());

  gguf::GgufWriter empty;
  empty.set("tokenizer.chat_template", gguf::Value::of_string(""));
  EXPECT_EQ(chat_template_for(gguf::GgufFile::from_bytes(empty.write_to_memory())).source(),
            ChatTemplate::chatml_source());
}

ChatTemplateInput twenty_messages() {
  boost::json::array messages;
  messages.push_back(boost::json::object{{"role", "system"}, {"content", "You are a helpful assistant."}});
  for (int i = 0; i < 19; ++i)
    messages.push_back(boost::json::object{{"role", i % 2 == 0 ? "user" : "assistant"},
                                           {"content", "Message number " + std::to_string(i) +
                                                           " with a little text in it to render."}});
  ChatTemplateInput input;
  input.messages = std::move(messages);
  return input;
}

TEST(ChatTemplateTest, ConcurrentRendersOfOneTemplateAgree) {
  const ChatTemplate chatml{std::string(ChatTemplate::chatml_source())};
  const ChatTemplateInput input = twenty_messages();
  const std::string expected = chatml.render(input);
  std::vector<std::thread> threads;
  std::vector<int> mismatches(4, 0);
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) mismatches[t] += chatml.render(input) != expected;
    });
  for (auto& thread : threads) thread.join();
  for (int m : mismatches) EXPECT_EQ(m, 0);
}

TEST(ChatTemplateTest, TwentyMessagesRenderWellUnderAMillisecond) {
  const ChatTemplate chatml{std::string(ChatTemplate::chatml_source())};
  const ChatTemplateInput input = twenty_messages();
  constexpr int kRenders = 200;
  const auto start = std::chrono::steady_clock::now();
  size_t bytes = 0;
  for (int i = 0; i < kRenders; ++i) bytes += chatml.render(input).size();
  const double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count() / kRenders;
  std::cout << "ChatML, 20 messages: " << us << " us per render\n";
  EXPECT_GT(bytes, 0u);
  EXPECT_LT(us, 1000.0);
}

}  // namespace
}  // namespace tether::chat

namespace tether::chat {
namespace {

// The demo model carries our ChatML; its render tokenizes into the model's
// control tokens, so the prompt the engine sees is well-formed ChatML.
TEST(ChatTemplateTest, DemoModelTemplateRendersIntoItsControlTokens) {
  model::MakeModelOptions options;
  options.shape = model::model_shape_preset("tiny");
  options.shape.vocab_size = 1024;
  model::ModelMaker maker(options);
  const auto file = gguf::GgufFile::from_bytes(maker.write_to_memory(), "demo");
  const ChatTemplate chat_template = chat_template_for(file);
  EXPECT_EQ(chat_template.source(), ChatTemplate::chatml_source());
  const std::string prompt = chat_template.render(input_from(R"([{"role": "user", "content": "Hi"}])"));
  const auto tokenizer = tokenizer::Tokenizer::from_gguf(file);
  tokenizer::EncodeOptions encode;
  encode.parse_special = true;
  const auto ids = tokenizer.encode(prompt, encode);
  std::string specials;
  for (const auto id : ids) {
    const std::string& piece = tokenizer.token_to_piece(id, true);
    if (piece.rfind("<|", 0) == 0) specials += piece;
  }
  EXPECT_EQ(specials, "<|im_start|><|im_end|><|im_start|>");
}

}  // namespace
}  // namespace tether::chat
