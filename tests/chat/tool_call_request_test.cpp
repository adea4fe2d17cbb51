#include "chat/tool_call_request.h"

#include <string>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "common/error.h"

namespace tether::chat {
namespace {

namespace json = boost::json;

const char* const kTools = R"([
  {"type": "function", "function": {"name": "get_weather", "description": "Weather",
   "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}},
  {"type": "function", "function": {"name": "get-time_2"}}
])";

std::string error_of(const std::string& tools_json) {
  try {
    validate_tools(json::parse(tools_json));
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::kInvalidArgument);
    return error.what();
  }
  return "";
}

TEST(ToolCallRequestTest, AcceptsOpenAiTools) {
  EXPECT_EQ(error_of(kTools), "");
  EXPECT_EQ(error_of("[]"), "");
}

TEST(ToolCallRequestTest, NamesTheFieldThatIsWrong) {
  EXPECT_EQ(error_of("{}"), "tools must be an array, not an object");
  EXPECT_EQ(error_of("[1]"), "tools[0] must be an object, not a number");
  EXPECT_EQ(error_of(R"([{"function": {"name": "a"}}])"), "tools[0].type is missing");
  EXPECT_EQ(error_of(R"([{"type": "code", "function": {"name": "a"}}])"), "tools[0].type must be \"function\"");
  EXPECT_EQ(error_of(R"([{"type": "function", "function": {"name": "a"}}, {"type": "function"}])"),
            "tools[1].function is missing");
  EXPECT_EQ(error_of(R"([{"type": "function", "function": {"name": "a"}}, {"type": "function", "function": {}}])"),
            "tools[1].function.name is missing");
  EXPECT_EQ(error_of(R"([{"type": "function", "function": {"name": 5}}])"),
            "tools[0].function.name must be a string, not a number");
  EXPECT_EQ(error_of(R"([{"type": "function", "function": {"name": "has space"}}])"),
            "tools[0].function.name must be 1 to 64 characters of a-z, A-Z, 0-9, '_' or '-'");
  EXPECT_EQ(error_of(R"([{"type": "function", "function": {"name": ""}}])"),
            "tools[0].function.name must be 1 to 64 characters of a-z, A-Z, 0-9, '_' or '-'");
  EXPECT_NE(error_of(R"([{"type": "function", "function": {"name": ")" + std::string(65, 'a') + R"("}}])"), "");
  EXPECT_EQ(error_of(R"([{"type": "function", "function": {"name": "a"}}, {"type": "function", "function": {"name": "a"}}])"),
            "tools[1].function.name \"a\" is used by an earlier tool");
  EXPECT_EQ(error_of(R"([{"type": "function", "function": {"name": "a", "parameters": "x"}}])"),
            "tools[0].function.parameters must be a JSON Schema object, not a string");
  EXPECT_EQ(error_of(R"([{"type": "function", "function": {"name": "a", "description": 1}}])"),
            "tools[0].function.description must be a string, not a number");
  EXPECT_EQ(error_of(R"([{"type": "function", "function": {"name": "a", "strict": "yes"}}])"),
            "tools[0].function.strict must be a boolean, not a string");
}

TEST(ToolCallRequestTest, ParsesToolChoice) {
  const json::array tools = json::parse(kTools).as_array();
  const json::array none;
  EXPECT_EQ(parse_tool_choice(nullptr, tools).mode, ToolChoice::Mode::kAuto);
  EXPECT_EQ(parse_tool_choice(nullptr, none).mode, ToolChoice::Mode::kNone);
  const json::value null_choice;
  EXPECT_EQ(parse_tool_choice(&null_choice, tools).mode, ToolChoice::Mode::kAuto);
  for (const auto& [text, mode] : {std::pair{"none", ToolChoice::Mode::kNone}, std::pair{"auto", ToolChoice::Mode::kAuto},
                                   std::pair{"required", ToolChoice::Mode::kRequired}}) {
    const json::value choice = json::string(text);
    EXPECT_EQ(parse_tool_choice(&choice, tools).mode, mode) << text;
  }
  const json::value named = json::parse(R"({"type": "function", "function": {"name": "get-time_2"}})");
  EXPECT_EQ(parse_tool_choice(&named, tools), (ToolChoice{ToolChoice::Mode::kFunction, "get-time_2"}));
}

TEST(ToolCallRequestTest, RefusesBadToolChoice) {
  const json::array tools = json::parse(kTools).as_array();
  const auto message = [&](const std::string& choice_json, const json::array& with) {
    const json::value choice = json::parse(choice_json);
    try {
      parse_tool_choice(&choice, with);
    } catch (const Error& error) {
      EXPECT_EQ(error.code(), ErrorCode::kInvalidArgument);
      return std::string(error.what());
    }
    return std::string();
  };
  EXPECT_EQ(message(R"("sometimes")", tools), "tool_choice must be \"none\", \"auto\", \"required\" or an object");
  EXPECT_EQ(message(R"("required")", json::array{}), "tool_choice \"required\" needs a non-empty tools");
  EXPECT_EQ(message("3", tools), "tool_choice must be a string or an object, not a number");
  EXPECT_EQ(message(R"({"function": {"name": "get_weather"}})", tools), "tool_choice.type must be \"function\"");
  EXPECT_EQ(message(R"({"type": "function"})", tools), "tool_choice.function must be an object with a name");
  EXPECT_EQ(message(R"({"type": "function", "function": {}})", tools), "tool_choice.function.name is missing");
  EXPECT_EQ(message(R"({"type": "function", "function": {"name": "nope"}})", tools),
            "tool_choice.function.name \"nope\" is not one of the tools");
}

TEST(ToolCallRequestTest, ParametersDefaultToAnEmptyObjectSchema) {
  const json::array tools = json::parse(kTools).as_array();
  EXPECT_EQ(tool_name(tools[0]), "get_weather");
  EXPECT_EQ(tool_parameters(tools[0]).at("required").as_array().size(), 1u);
  EXPECT_EQ(tool_parameters(tools[1]), json::parse(R"({"type": "object", "properties": {}})"));
}

}  // namespace
}  // namespace tether::chat
