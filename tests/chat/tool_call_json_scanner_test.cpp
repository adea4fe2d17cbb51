#include "chat/tool_call_json_scanner.h"

#include <string>
#include <string_view>

#include <gtest/gtest.h>

namespace tether::chat {
namespace {

using Status = ToolCallJsonScanner::Status;

// Feeds `text`; returns the index of the byte that closed the value or
// errored, with the status, or (size, kContinue) when it is still open.
std::pair<size_t, Status> scan(std::string_view text) {
  ToolCallJsonScanner scanner;
  for (size_t i = 0; i < text.size(); ++i) {
    const Status status = scanner.feed(text[i]);
    if (status != Status::kContinue) return {i, status};
  }
  return {text.size(), Status::kContinue};
}

TEST(ToolCallJsonScannerTest, ClosesOnTheLastByteOfValidDocuments) {
  for (const std::string_view doc : {
           R"({})", R"([])", R"({"a": 1})", R"({"a": [1, 2.5, -3e+2, 0, -0.0, 1E5]})",
           R"({"s": "x\"y\\z\u00e9\n", "t": true, "f": false, "n": null})",
           R"([{"a": {"b": [[], {}]}}, "x"])", " { \"a\" :\t{ } } ",
           R"({"k": "\u0041\/"})"}) {
    const auto [at, status] = scan(doc);
    EXPECT_EQ(status, Status::kDone) << doc;
    const size_t last = std::string_view(doc).find_last_not_of(' ');
    EXPECT_EQ(at, last) << doc;
  }
}

TEST(ToolCallJsonScannerTest, StaysOpenOnPrefixes) {
  for (const std::string_view doc : {R"({"a": )", R"({"a": "x)", R"({"a": 12)", R"([1, )", R"({"a": tr)"}) {
    EXPECT_EQ(scan(doc).second, Status::kContinue) << doc;
  }
}

TEST(ToolCallJsonScannerTest, RejectsInvalidBytesWhereTheyOccur) {
  struct Case {
    std::string_view doc;
    size_t error_at;
  };
  for (const Case& c : {Case{"x", 0}, Case{"\"s\"", 0}, Case{"1", 0}, Case{"{a", 1}, Case{R"({"a" 1})", 5},
                        Case{R"({"a": 01})", 7}, Case{R"({"a": 1,})", 8}, Case{"[1,]", 3},
                        Case{R"({"a": tru})", 9}, Case{R"({"a": "\q"})", 8}, Case{"{\"a\": \"\n\"}", 7},
                        Case{R"({"a": 1.})", 8}, Case{R"({"a": -})", 7}, Case{R"({"a": 1]})", 7},
                        Case{R"({"a": "\u12G4"})", 11}}) {
    const auto [at, status] = scan(c.doc);
    EXPECT_EQ(status, Status::kError) << c.doc;
    EXPECT_EQ(at, c.error_at) << c.doc;
  }
}

TEST(ToolCallJsonScannerTest, BoundsDepthAndRefusesBytesAfterTheEnd) {
  std::string deep(ToolCallJsonScanner::kMaxDepth + 1, '[');
  EXPECT_EQ(scan(deep).second, Status::kError);
  ToolCallJsonScanner scanner;
  EXPECT_EQ(scanner.feed('{'), Status::kContinue);
  EXPECT_EQ(scanner.feed('}'), Status::kDone);
  EXPECT_EQ(scanner.feed(' '), Status::kError);
}

}  // namespace
}  // namespace tether::chat
