#include "chat/tool_call_messages.h"

#include <string>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "common/error.h"

namespace tether::chat {
namespace {

namespace json = boost::json;

TEST(ToolCallMessagesTest, FlattensTextPartsAndParsesArguments) {
  const json::array messages = json::parse(R"([
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": [{"type": "text", "text": "Weather in"}, {"type": "text", "text": "Paris?"}]},
    {"role": "assistant", "content": null, "tool_calls": [
      {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}},
      {"id": "call_2", "type": "function", "function": {"name": "broken", "arguments": "{not json"}},
      {"id": "call_3", "type": "function", "function": {"name": "list", "arguments": "[1]"}}]},
    {"role": "tool", "tool_call_id": "call_1", "content": "sunny"}
  ])").as_array();
  const json::array prepared = prepare_messages_for_template(messages);
  ASSERT_EQ(prepared.size(), 4u);
  EXPECT_EQ(prepared[0], messages[0]);
  EXPECT_EQ(prepared[1].at("content"), "Weather in\nParis?");
  EXPECT_EQ(prepared[1].at("role"), "user");
  const json::array& calls = prepared[2].at("tool_calls").as_array();
  EXPECT_EQ(calls[0].at("function").at("arguments"), json::parse(R"({"city": "Paris"})"));
  EXPECT_EQ(calls[0].at("id"), "call_1");
  EXPECT_EQ(calls[1].at("function").at("arguments"), "{not json");  // kept as sent
  EXPECT_EQ(calls[2].at("function").at("arguments"), "[1]");        // not an object: kept
  EXPECT_TRUE(prepared[2].at("content").is_null());
  EXPECT_EQ(prepared[3], messages[3]);
  // The input is untouched.
  EXPECT_TRUE(messages[2].at("tool_calls").at(0).at("function").at("arguments").is_string());
}

TEST(ToolCallMessagesTest, NamesTheFieldThatIsWrong) {
  const auto message = [](const char* messages_json) {
    try {
      prepare_messages_for_template(json::parse(messages_json).as_array());
    } catch (const Error& error) {
      EXPECT_EQ(error.code(), ErrorCode::kInvalidArgument);
      return std::string(error.what());
    }
    return std::string();
  };
  EXPECT_EQ(message(R"([{"role": "user", "content": "hi"}, 3])"), "messages[1] must be an object");
  EXPECT_EQ(message(R"([{"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "image_url"}]}])"),
            "messages[0].content[1].type must be \"text\" (this model reads text only)");
  EXPECT_EQ(message(R"([{"role": "user", "content": [{"text": "a"}]}])"), "messages[0].content[0].type is missing");
  EXPECT_EQ(message(R"([{"role": "user", "content": [{"type": "text"}]}])"), "messages[0].content[0].text is missing");
  EXPECT_EQ(message(R"([{"role": "user", "content": [{"type": "text", "text": 1}]}])"),
            "messages[0].content[0].text must be a string");
  EXPECT_EQ(message(R"([{"role": "assistant", "tool_calls": {}}])"), "messages[0].tool_calls must be an array");
  EXPECT_EQ(message(R"([{"role": "assistant", "tool_calls": [{"id": "x"}]}])"),
            "messages[0].tool_calls[0].function is missing");
  EXPECT_EQ(message(R"([{"role": "assistant", "tool_calls": [{"function": {"arguments": "{}"}}]}])"),
            "messages[0].tool_calls[0].function.name is missing");
}

}  // namespace
}  // namespace tether::chat
