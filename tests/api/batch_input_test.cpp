#include "api/batch_input.h"

#include <string>

#include <gtest/gtest.h>

#include "http/http_error.h"

namespace tether::api {
namespace {

TEST(CompletionWindowTest, ReadsHoursMinutesAndSeconds) {
  EXPECT_EQ(parse_completion_window("24h"), 24 * 3'600'000);
  EXPECT_EQ(parse_completion_window("90m"), 90 * 60'000);
  EXPECT_EQ(parse_completion_window("1s"), 1'000);
  EXPECT_EQ(parse_completion_window("744h"), int64_t{744} * 3'600'000);  // 31 days
}

TEST(CompletionWindowTest, RefusesEverythingElse) {
  for (const char* text : {"", "h", "0h", "-1h", "24", "24d", "1.5h", "745h", " 1h", "1h ", "99999999999999999999s"}) {
    try {
      parse_completion_window(text);
      ADD_FAILURE() << "accepted '" << text << "'";
    } catch (const http::HttpError& error) {
      EXPECT_EQ(error.status(), 400);
      EXPECT_EQ(error.param(), "completion_window");
    }
  }
}

TEST(BatchInputTest, KeepsBodiesAndCustomIdsInOrder) {
  const std::string jsonl =
      R"({"custom_id": "a", "method": "POST", "url": "/v1/completions", "body": {"model": "m", "prompt": "x"}})"
      "\r\n\n   \n"
      R"({"custom_id": "b", "method": "POST", "url": "/v1/completions", "body": {"model": "m", "prompt": "y"}})";
  const BatchInput input = parse_batch_input(jsonl, "/v1/completions");
  EXPECT_EQ(input.model, "m");
  ASSERT_EQ(input.items.size(), 2u);
  EXPECT_EQ(input.items[0].custom_id, "\"a\"");
  EXPECT_EQ(input.items[1].request, R"({"model":"m","prompt":"y"})");
}

TEST(BatchInputTest, CountsLinesFromOneAndCapsRequests) {
  const std::string line =
      R"({"custom_id": "ID", "method": "POST", "url": "/v1/completions", "body": {"model": "m"}})";
  auto with_id = [&](const std::string& id) {
    std::string text = line;
    text.replace(text.find("ID"), 2, id);
    return text;
  };
  try {
    parse_batch_input(with_id("a") + "\n" + with_id("b") + "\n" + with_id("c"), "/v1/completions", 2);
    FAIL();
  } catch (const http::HttpError& error) {
    EXPECT_NE(std::string(error.what()).find("line 3: a batch holds at most 2 requests"), std::string::npos)
        << error.what();
  }
  try {
    parse_batch_input("\n\n", "/v1/completions");
    FAIL();
  } catch (const http::HttpError& error) {
    EXPECT_EQ(error.code(), "empty_file");
  }
}

}  // namespace
}  // namespace tether::api
