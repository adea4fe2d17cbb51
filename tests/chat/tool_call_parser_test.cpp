#include "chat/tool_call_parser.h"

#include <random>
#include <regex>
#include <string>
#include <vector>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "common/error.h"

namespace tether::chat {
namespace {

namespace json = boost::json;
using Kind = ToolCallEvent::Kind;

constexpr uint64_t kIdSeed = 7;

ParsedToolCalls parse(ToolCallFormat format, std::string_view text) {
  return parse_tool_calls(format, text, ToolCallIdGenerator(kIdSeed));
}

// Feeds `text` cut at the given offsets; checks the event stream's shape
// on the way (begin, arguments, end per call, in order) and folds it.
ParsedToolCalls parse_split(ToolCallFormat format, std::string_view text, const std::vector<size_t>& cuts) {
  ToolCallParser parser(format, ToolCallIdGenerator(kIdSeed));
  ParsedToolCalls result;
  int open_call = -1;
  int next_index = 0;
  const auto fold = [&](const std::vector<ToolCallEvent>& events) {
    for (const ToolCallEvent& event : events) {
      switch (event.kind) {
        case Kind::kContent:
          EXPECT_EQ(open_call, -1) << "content inside a call";
          EXPECT_FALSE(event.text.empty());
          break;
        case Kind::kCallBegin:
          EXPECT_EQ(open_call, -1);
          EXPECT_EQ(event.index, next_index);
          EXPECT_FALSE(event.name.empty());
          EXPECT_FALSE(event.id.empty());
          open_call = event.index;
          break;
        case Kind::kArguments:
          EXPECT_EQ(event.index, open_call);
          EXPECT_FALSE(event.text.empty());
          break;
        case Kind::kCallEnd:
          EXPECT_EQ(event.index, open_call);
          open_call = -1;
          ++next_index;
          break;
      }
      apply_tool_call_event(result, event);
    }
  };
  size_t start = 0;
  for (const size_t cut : cuts) {
    fold(parser.feed(text.substr(start, cut - start)));
    start = cut;
  }
  fold(parser.feed(text.substr(start)));
  fold(parser.finish());
  EXPECT_EQ(open_call, -1) << "a call never ended";
  return result;
}

// Every split of the same text gives the one-shot result.
void expect_split_invariant(ToolCallFormat format, std::string_view text) {
  const ParsedToolCalls whole = parse(format, text);
  std::vector<size_t> every_byte;
  for (size_t i = 1; i < text.size(); ++i) every_byte.push_back(i);
  EXPECT_EQ(parse_split(format, text, every_byte), whole) << "byte by byte: " << text;
  std::mt19937 rng(static_cast<uint32_t>(text.size()));
  for (int trial = 0; trial < 60; ++trial) {
    std::vector<size_t> cuts;
    std::uniform_int_distribution<size_t> gap(1, 12);
    for (size_t at = gap(rng); at < text.size(); at += gap(rng)) cuts.push_back(at);
    EXPECT_EQ(parse_split(format, text, cuts), whole) << "trial " << trial << ": " << text;
  }
}

void expect_call(const ToolCall& call, std::string_view name, std::string_view arguments) {
  EXPECT_EQ(call.name, name);
  EXPECT_EQ(call.arguments, arguments);
  EXPECT_NO_THROW(json::parse(call.arguments)) << call.arguments;
}

bool is_openai_id(const std::string& id) { return std::regex_match(id, std::regex("call_[A-Za-z0-9]{24}")); }

// --- Hermes / Qwen ---------------------------------------------------------

TEST(ToolCallParserTest, HermesSingleCall) {
  const std::string text =
      "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"days\": 3}}\n</tool_call>";
  const ParsedToolCalls result = parse(ToolCallFormat::kHermes, text);
  EXPECT_EQ(result.content, "");
  ASSERT_EQ(result.tool_calls.size(), 1u);
  expect_call(result.tool_calls[0], "get_weather", R"({"city": "Paris", "days": 3})");
  EXPECT_TRUE(is_openai_id(result.tool_calls[0].id)) << result.tool_calls[0].id;
}

TEST(ToolCallParserTest, HermesSeveralCallsWithTextBefore) {
  const std::string text =
      "Let me look both up.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n"
      "</tool_call>\n<tool_call>\n{\"name\": \"get_time\", \"arguments\": {\"tz\": \"Europe/Paris\"}}\n</tool_call>\n";
  const ParsedToolCalls result = parse(ToolCallFormat::kHermes, text);
  EXPECT_EQ(result.content, "Let me look both up.\n");
  ASSERT_EQ(result.tool_calls.size(), 2u);
  expect_call(result.tool_calls[0], "get_weather", R"({"city": "Paris"})");
  expect_call(result.tool_calls[1], "get_time", R"({"tz": "Europe/Paris"})");
  EXPECT_NE(result.tool_calls[0].id, result.tool_calls[1].id);
}

TEST(ToolCallParserTest, HermesTextAfterACallIsContent) {
  const ParsedToolCalls result = parse(
      ToolCallFormat::kHermes, "<tool_call>\n{\"name\": \"f\", \"arguments\": {}}\n</tool_call>\nDone.");
  EXPECT_EQ(result.content, "\nDone.");
  ASSERT_EQ(result.tool_calls.size(), 1u);
  expect_call(result.tool_calls[0], "f", "{}");
}

TEST(ToolCallParserTest, HermesOtherShapesAreReadWhole) {
  // Keys in another order, arguments as a JSON string, extra members, no
  // closing tag, "parameters" for "arguments".
  ParsedToolCalls result =
      parse(ToolCallFormat::kHermes, "<tool_call>{\"arguments\": {\"a\": [1, 2]}, \"name\": \"f\"}</tool_call>");
  ASSERT_EQ(result.tool_calls.size(), 1u);
  expect_call(result.tool_calls[0], "f", R"({"a":[1,2]})");
  EXPECT_EQ(result.content, "");

  result = parse(ToolCallFormat::kHermes, R"(<tool_call>{"name": "f", "arguments": "{\"a\": 1}"}</tool_call>)");
  ASSERT_EQ(result.tool_calls.size(), 1u);
  expect_call(result.tool_calls[0], "f", R"({"a": 1})");

  result = parse(ToolCallFormat::kHermes,
                 "<tool_call>\n{\"name\": \"f\", \"arguments\": {\"a\": 1}, \"id\": \"x\"}\n</tool_call>");
  ASSERT_EQ(result.tool_calls.size(), 1u);
  expect_call(result.tool_calls[0], "f", R"({"a": 1})");
  EXPECT_EQ(result.content, "");

  result = parse(ToolCallFormat::kHermes, "<tool_call>\n{\"name\": \"f\", \"parameters\": {\"a\": 1}}");
  ASSERT_EQ(result.tool_calls.size(), 1u);
  expect_call(result.tool_calls[0], "f", R"({"a": 1})");
  EXPECT_EQ(result.content, "");
}

TEST(ToolCallParserTest, HermesMalformedBlocksStayContent) {
  for (const std::string& text : {
           std::string("<tool_call>\nI cannot call tools.\n</tool_call>"),
           std::string("<tool_call>\n{\"city\": \"Paris\"}\n</tool_call>"),
           std::string("<tool_call>\n{\"name\": \"f\", \"arguments\": [1]}\n</tool_call>"),
           std::string("<tool_call>\n{\"name\": \"f\", \"arguments\": {\"a\": 1}"),  // stops mid-object
           std::string("<tool_call>\n{\"name\": 3, \"arguments\": {}}\n</tool_call>"),
           std::string("<tool_call>"),
           std::string("a <tool> b <tool_call c"),
       }) {
    const ParsedToolCalls result = parse(ToolCallFormat::kHermes, text);
    // The one truncated case is a committed call: its arguments closed.
    if (text.find("{\"a\": 1}") != std::string::npos && text.find("</tool_call>") == std::string::npos) {
      ASSERT_EQ(result.tool_calls.size(), 1u) << text;
      continue;
    }
    EXPECT_TRUE(result.tool_calls.empty()) << text;
    EXPECT_EQ(result.content, text);
  }
}

TEST(ToolCallParserTest, HermesCallCutOffInsideItsArgumentsKeepsWhatArrived) {
  const ParsedToolCalls result =
      parse(ToolCallFormat::kHermes, "<tool_call>\n{\"name\": \"f\", \"arguments\": {\"query\": \"weath");
  ASSERT_EQ(result.tool_calls.size(), 1u);
  EXPECT_EQ(result.tool_calls[0].arguments, "{\"query\": \"weath");
  EXPECT_EQ(result.content, "");
}

TEST(ToolCallParserTest, HermesArgumentsThatBreakMidwayEndTheCall) {
  // The valid prefix stays with the call; the rest is content, not lost.
  const ParsedToolCalls result =
      parse(ToolCallFormat::kHermes, "<tool_call>{\"name\": \"f\", \"arguments\": {\"a\": 1 oops}}</tool_call>");
  ASSERT_EQ(result.tool_calls.size(), 1u);
  EXPECT_EQ(result.tool_calls[0].arguments, "{\"a\": 1 ");
  EXPECT_EQ(result.content, "oops}}</tool_call>");
}

TEST(ToolCallParserTest, StreamingReleasesTextAsSoonAsItCannotBeAMarker) {
  ToolCallParser parser(ToolCallFormat::kHermes, ToolCallIdGenerator(1));
  auto events = parser.feed("Hello wor");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].text, "Hello wor");
  events = parser.feed("ld <tool");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].text, "ld ");  // "<tool" may still open a call
  events = parser.feed("s> list");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].text, "<tools> list");
  events = parser.feed("\n<tool_call>\n{\"name\": \"get_");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].text, "\n");
  events = parser.feed("weather\", \"arguments\": {\"ci");
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].kind, Kind::kCallBegin);
  EXPECT_EQ(events[0].name, "get_weather");
  EXPECT_EQ(events[1].kind, Kind::kArguments);
  EXPECT_EQ(events[1].text, "{\"ci");
  events = parser.feed("ty\": \"Paris\"}}\n</tool_");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].text, "ty\": \"Paris\"}");
  events = parser.feed("call>");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, Kind::kCallEnd);
  EXPECT_TRUE(parser.finish().empty());
  EXPECT_THROW(parser.feed("x"), Error);
}

// --- Llama 3 JSON ------------------------------------------------------------

TEST(ToolCallParserTest, Llama3WholeMessageCall) {
  for (const std::string& text : {
           std::string("{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}}"),
           std::string("\n\n{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}}  "),
           std::string("<|python_tag|>{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}}"),
       }) {
    const ParsedToolCalls result = parse(ToolCallFormat::kLlama3Json, text);
    EXPECT_EQ(result.content, "") << text;
    ASSERT_EQ(result.tool_calls.size(), 1u) << text;
    expect_call(result.tool_calls[0], "get_weather", R"({"city": "Paris"})");
    EXPECT_TRUE(is_openai_id(result.tool_calls[0].id));
  }
}

TEST(ToolCallParserTest, Llama3SeveralCallsSeparatedBySemicolons) {
  const ParsedToolCalls result = parse(ToolCallFormat::kLlama3Json,
                                       "{\"name\": \"a\", \"parameters\": {\"x\": 1}}; {\"name\": \"b\", "
                                       "\"parameters\": {}};{\"parameters\": {\"y\": 2}, \"name\": \"c\"}");
  EXPECT_EQ(result.content, "");
  ASSERT_EQ(result.tool_calls.size(), 3u);
  expect_call(result.tool_calls[0], "a", R"({"x": 1})");
  expect_call(result.tool_calls[1], "b", "{}");
  expect_call(result.tool_calls[2], "c", R"({"y":2})");
}

TEST(ToolCallParserTest, Llama3JsonThatIsNotACallAndProseStayContent) {
  for (const std::string& text : {std::string("{\"answer\": 42}"), std::string("Use {\"name\": \"x\"} here."),
                                 std::string("  The weather is fine."), std::string("{not json at all"),
                                 std::string("   ")}) {
    const ParsedToolCalls result = parse(ToolCallFormat::kLlama3Json, text);
    EXPECT_TRUE(result.tool_calls.empty()) << text;
    EXPECT_EQ(result.content, text);
  }
}

// --- Mistral -----------------------------------------------------------------

TEST(ToolCallParserTest, MistralArrayKeepsCarriedIdsAndMakesNineCharacterOnes) {
  const ParsedToolCalls result = parse(ToolCallFormat::kMistral,
                                       "[TOOL_CALLS][{\"name\": \"get_weather\", \"arguments\": {\"city\": "
                                       "\"Paris\"}, \"id\": \"aB3dE6gH9\"}, {\"name\": \"get_time\", "
                                       "\"arguments\": {}}]");
  EXPECT_EQ(result.content, "");
  ASSERT_EQ(result.tool_calls.size(), 2u);
  expect_call(result.tool_calls[0], "get_weather", R"({"city":"Paris"})");
  EXPECT_EQ(result.tool_calls[0].id, "aB3dE6gH9");
  expect_call(result.tool_calls[1], "get_time", "{}");
  // Mistral's template refuses ids that are not 9 alphanumerics.
  EXPECT_TRUE(std::regex_match(result.tool_calls[1].id, std::regex("[A-Za-z0-9]{9}"))) << result.tool_calls[1].id;
}

TEST(ToolCallParserTest, MistralNamedForm) {
  const ParsedToolCalls result =
      parse(ToolCallFormat::kMistral,
            "[TOOL_CALLS]get_weather[ARGS]{\"city\": \"Paris\"}[TOOL_CALLS]get_time[CALL_ID]x1y2z3w4v[ARGS]{}");
  EXPECT_EQ(result.content, "");
  ASSERT_EQ(result.tool_calls.size(), 2u);
  expect_call(result.tool_calls[0], "get_weather", R"({"city": "Paris"})");
  expect_call(result.tool_calls[1], "get_time", "{}");
  EXPECT_EQ(result.tool_calls[1].id, "x1y2z3w4v");
}

TEST(ToolCallParserTest, MistralMalformedStaysContent) {
  for (const std::string& text : {std::string("[TOOL_CALLS] I would rather not."),
                                 std::string("[TOOL_CALLS][{\"city\": \"Paris\"}]"), std::string("[TOOL_CALLS]["),
                                 std::string("[TOOL_CALLS]f[ARGS]oops"), std::string("see [TOOL_ CALLS]")}) {
    const ParsedToolCalls result = parse(ToolCallFormat::kMistral, text);
    EXPECT_TRUE(result.tool_calls.empty()) << text;
    EXPECT_EQ(result.content, text);
  }
}

// --- Kimi K2 -----------------------------------------------------------------

TEST(ToolCallParserTest, KimiSectionWithSeveralCalls) {
  const ParsedToolCalls result = parse(
      ToolCallFormat::kKimiK2,
      "I'll check.<|tool_calls_section_begin|><|tool_call_begin|>functions.get_weather:0"
      "<|tool_call_argument_begin|>{\"city\": \"Paris\"}<|tool_call_end|><|tool_call_begin|>functions.get_time:1"
      "<|tool_call_argument_begin|>{}<|tool_call_end|><|tool_calls_section_end|>");
  EXPECT_EQ(result.content, "I'll check.");
  ASSERT_EQ(result.tool_calls.size(), 2u);
  expect_call(result.tool_calls[0], "get_weather", R"({"city": "Paris"})");
  EXPECT_EQ(result.tool_calls[0].id, "functions.get_weather:0");
  expect_call(result.tool_calls[1], "get_time", "{}");
  EXPECT_EQ(result.tool_calls[1].id, "functions.get_time:1");
}

TEST(ToolCallParserTest, KimiMalformedStaysContent) {
  for (const std::string& text : {
           std::string("<|tool_calls_section_begin|>nothing here"),
           std::string("<|tool_calls_section_begin|><|tool_call_begin|>functions.f:0 <|tool_call_argument_begin|>{}"),
           std::string("<|tool_calls_section_begin|><|tool_call_begin|>functions.f:0<|tool_call_argument_begin|>[1]"),
       }) {
    const ParsedToolCalls result = parse(ToolCallFormat::kKimiK2, text);
    EXPECT_TRUE(result.tool_calls.empty()) << text;
    EXPECT_EQ(result.content, text);
  }
}

// --- Any split, same result --------------------------------------------------

TEST(ToolCallParserTest, StreamingMatchesOneShotOverRandomSplits) {
  const std::vector<std::pair<ToolCallFormat, std::string>> corpus = {
      {ToolCallFormat::kHermes,
       "Sure.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"S\\u00e3o \\\"Paulo\\\"\", "
       "\"units\": [\"c\", \"f\"], \"n\": -1.5e3}}\n</tool_call>\n<tool_call>\n{\"arguments\": {}, \"name\": "
       "\"noop\"}\n</tool_call>\n\nDone <tool and <tool_call>oops</tool_call>"},
      {ToolCallFormat::kHermes, "<tool_call>{\"name\": \"f\", \"arguments\": {\"a\": 1 oops}}</tool_call> x"},
      {ToolCallFormat::kHermes, "no calls at all, just < and <t and </tool_call>"},
      {ToolCallFormat::kLlama3Json,
       "  {\"name\": \"a\", \"parameters\": {\"q\": \"x;y\"}} ; {\"name\": \"b\", \"parameters\": {}}"},
      {ToolCallFormat::kLlama3Json, "Text first <|python_tag|>{\"name\": \"a\", \"parameters\": {\"k\": null}}"},
      {ToolCallFormat::kLlama3Json, "{\"answer\": {\"deep\": [1, 2, {\"x\": true}]}} trailing"},
      {ToolCallFormat::kMistral,
       "[TOOL_CALLS][{\"name\": \"a\", \"arguments\": {\"x\": 1}, \"id\": \"abcdefghi\"}, {\"name\": \"b\", "
       "\"arguments\": \"{}\"}] after"},
      {ToolCallFormat::kMistral, "pre [TOOL_CALLS]a[ARGS]{\"x\": [1, {}]} [TOOL_CALLS]b[CALL_ID]id1[ARGS]{}"},
      {ToolCallFormat::kMistral, "[TOOL_CALLS] nope [TOOL_CALL"},
      {ToolCallFormat::kKimiK2,
       "Checking<|tool_calls_section_begin|> <|tool_call_begin|> functions.a:0<|tool_call_argument_begin|> "
       "{\"x\": \"<|tool_call_end|>\"} <|tool_call_end|><|tool_call_begin|>functions.b.c:1<|tool_call_argument_"
       "begin|>{}<|tool_call_end|><|tool_calls_section_end|> then text"},
      {ToolCallFormat::kKimiK2, "<|tool_calls_section_begin|><|tool_call_begin|>broken"},
  };
  for (const auto& [format, text] : corpus) {
    SCOPED_TRACE(text);
    const ParsedToolCalls whole = parse(format, text);
    expect_split_invariant(format, text);
    // Every byte is accounted for: content plus the calls' syntax.
    EXPECT_LE(whole.content.size(), text.size());
  }
}

TEST(ToolCallParserTest, SplitInvariantOverGeneratedOutputs) {
  // Random mixtures of prose, marker fragments and calls, per family.
  std::mt19937 rng(42);
  const std::vector<std::string> prose = {"Hi ", "<", "<tool", "[TOOL", "{", "}", "\n", " ", "<|", ";", "[",
                                          "\"", "<tool_call>", "[TOOL_CALLS]", "<|python_tag|>",
                                          "<|tool_calls_section_begin|>"};
  const std::vector<std::pair<ToolCallFormat, std::string>> calls = {
      {ToolCallFormat::kHermes, "<tool_call>\n{\"name\": \"f\", \"arguments\": {\"a\": [1, \"}\"]}}\n</tool_call>"},
      {ToolCallFormat::kLlama3Json, "{\"name\": \"f\", \"parameters\": {\"a\": \"{\"}}"},
      {ToolCallFormat::kMistral, "[TOOL_CALLS][{\"name\": \"f\", \"arguments\": {\"a\": 1}}]"},
      {ToolCallFormat::kMistral, "[TOOL_CALLS]f[ARGS]{\"a\": 1}"},
      {ToolCallFormat::kKimiK2,
       "<|tool_calls_section_begin|><|tool_call_begin|>functions.f:0<|tool_call_argument_begin|>{\"a\": 1}"
       "<|tool_call_end|><|tool_calls_section_end|>"},
  };
  for (int trial = 0; trial < 150; ++trial) {
    const auto& [format, call] = calls[trial % calls.size()];
    std::string text;
    const int pieces = 1 + static_cast<int>(rng() % 6);
    for (int piece = 0; piece < pieces; ++piece) {
      text += rng() % 3 == 0 ? call : prose[rng() % prose.size()];
    }
    SCOPED_TRACE(text);
    const ParsedToolCalls whole = parse(format, text);
    std::vector<size_t> cuts;
    for (size_t at = 1 + rng() % 5; at < text.size(); at += 1 + rng() % 5) cuts.push_back(at);
    EXPECT_EQ(parse_split(format, text, cuts), whole);
    std::vector<size_t> every_byte;
    for (size_t i = 1; i < text.size(); ++i) every_byte.push_back(i);
    EXPECT_EQ(parse_split(format, text, every_byte), whole);
  }
}

TEST(ToolCallParserTest, IdsComeFromTheSeed) {
  const std::string text = "<tool_call>{\"name\": \"f\", \"arguments\": {}}</tool_call>";
  const auto a = parse_tool_calls(ToolCallFormat::kHermes, text, ToolCallIdGenerator(1));
  const auto b = parse_tool_calls(ToolCallFormat::kHermes, text, ToolCallIdGenerator(1));
  const auto c = parse_tool_calls(ToolCallFormat::kHermes, text, ToolCallIdGenerator(2));
  EXPECT_EQ(a.tool_calls[0].id, b.tool_calls[0].id);
  EXPECT_NE(a.tool_calls[0].id, c.tool_calls[0].id);
  EXPECT_TRUE(is_openai_id(parse_tool_calls(ToolCallFormat::kHermes, text).tool_calls[0].id));
}

}  // namespace
}  // namespace tether::chat
