#include "http/sse_parser.h"

#include <gtest/gtest.h>

#include "common/error.h"

namespace tether::http {
namespace {

TEST(SseParserTest, ParsesEventsSplitAnywhere) {
  const std::string stream =
      ": keep-alive comment\n"
      "data: {\"a\":1}\n\n"
      "event: update\r\nid: 7\r\ndata: line one\r\ndata:line two\r\n\r\n"
      "data: [DONE]\r\r";
  // Every split point gives the same events.
  for (size_t split = 0; split <= stream.size(); ++split) {
    SseParser parser;
    std::vector<SseEvent> events = parser.feed(stream.substr(0, split));
    for (auto& event : parser.feed(stream.substr(split))) events.push_back(event);
    ASSERT_EQ(events.size(), 3u) << "split at " << split;
    EXPECT_EQ(events[0].event, "message");
    EXPECT_EQ(events[0].data, "{\"a\":1}");
    EXPECT_EQ(events[1].event, "update");
    EXPECT_EQ(events[1].id, "7");
    EXPECT_EQ(events[1].data, "line one\nline two");
    EXPECT_EQ(events[2].data, "[DONE]");
  }
}

TEST(SseParserTest, EventsWithoutDataAreDroppedAndUnfinishedOnesWait) {
  SseParser parser;
  EXPECT_TRUE(parser.feed("event: ping\n\n").empty());
  EXPECT_TRUE(parser.feed("data: x\n").empty());  // no blank line yet
  auto events = parser.feed("\n");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].data, "x");
  EXPECT_EQ(parser.feed("data\n\n").at(0).data, "");  // a field without a colon
}

TEST(SseParserTest, OverlongLineIsAnError) {
  SseParser parser(16);
  EXPECT_THROW(parser.feed("data: " + std::string(100, 'x')), Error);
}

}  // namespace
}  // namespace tether::http
