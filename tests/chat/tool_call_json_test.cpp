#include "chat/tool_call_json.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace tether::chat {
namespace {

namespace json = boost::json;

TEST(ToolCallJsonTest, CompleteCallsInOpenAiShape) {
  const json::array calls = tool_calls_to_json({ToolCall{"call_1", "f", R"({"a": 1})"}});
  EXPECT_EQ(calls, json::parse(R"([{"id": "call_1", "type": "function",
                                   "function": {"name": "f", "arguments": "{\"a\": 1}"}}])"));
}

TEST(ToolCallJsonTest, StreamedDeltasRebuildTheCalls) {
  ToolCallParser parser(ToolCallFormat::kHermes, ToolCallIdGenerator(5));
  std::vector<json::object> deltas;
  for (const char* piece : {"Hi <tool_", "call>{\"name\": \"f\", \"arguments\": {\"a\"", ": 1}}</tool_call>"}) {
    for (const ToolCallEvent& event : parser.feed(piece)) deltas.push_back(tool_call_event_delta(event));
  }
  for (const ToolCallEvent& event : parser.finish()) deltas.push_back(tool_call_event_delta(event));
  // What a client does with the chunks: content concatenated, calls by index.
  std::string content;
  json::array calls;
  for (const json::object& delta : deltas) {
    if (const json::value* text = delta.if_contains("content")) content += text->as_string();
    const json::value* tool_calls = delta.if_contains("tool_calls");
    if (tool_calls == nullptr) continue;
    const json::object& call = tool_calls->as_array().at(0).as_object();
    const auto index = static_cast<size_t>(call.at("index").as_int64());
    if (index == calls.size()) {
      calls.push_back(
          json::object{{"id", call.at("id")},
                       {"type", call.at("type")},
                       {"function", json::object{{"name", call.at("function").at("name")}, {"arguments", ""}}}});
    }
    json::string& arguments = calls.at(index).at("function").at("arguments").as_string();
    arguments.append(call.at("function").at("arguments").as_string());
  }
  EXPECT_EQ(content, "Hi ");
  EXPECT_EQ(calls, tool_calls_to_json(
                       parse_tool_calls(ToolCallFormat::kHermes,
                                        "Hi <tool_call>{\"name\": \"f\", \"arguments\": {\"a\": 1}}</tool_call>",
                                        ToolCallIdGenerator(5))
                           .tool_calls));
  EXPECT_TRUE(tool_call_event_delta(ToolCallEvent{ToolCallEvent::Kind::kCallEnd, 0, "", "", ""}).empty());
}

}  // namespace
}  // namespace tether::chat
