#include "engine/generation/stop_string_matcher.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace tether::generation {
namespace {

// Feeds `pieces` one by one; returns everything released and whether it stopped.
std::pair<std::string, bool> run(std::vector<std::string> stops, const std::vector<std::string>& pieces) {
  StopStringMatcher matcher(std::move(stops));
  std::string out;
  for (const std::string& piece : pieces) {
    StopStringMatcher::Result r = matcher.push(piece);
    out += r.text;
    if (r.stopped) return {out, true};
  }
  out += matcher.flush();
  return {out, false};
}

TEST(StopStringMatcherTest, WithoutStopsEverythingPassesAtOnce) {
  StopStringMatcher matcher({});
  EXPECT_EQ(matcher.push("abc").text, "abc");
  EXPECT_EQ(matcher.held_bytes(), 0u);
}

TEST(StopStringMatcherTest, StopInsideOnePieceCutsBeforeIt) {
  EXPECT_EQ(run({"END"}, {"hello END world"}), std::make_pair(std::string("hello "), true));
}

TEST(StopStringMatcherTest, StopSplitAcrossPiecesIsFoundAndNeverEmitted) {
  StopStringMatcher matcher({"</s>"});
  StopStringMatcher::Result a = matcher.push("text <");
  EXPECT_EQ(a.text, "text ");  // "<" could begin the stop string: held
  EXPECT_EQ(matcher.held_bytes(), 1u);
  StopStringMatcher::Result b = matcher.push("/");
  EXPECT_EQ(b.text, "");
  StopStringMatcher::Result c = matcher.push("s>tail");
  EXPECT_TRUE(c.stopped);
  EXPECT_EQ(c.text, "");
  EXPECT_EQ(c.matched, "</s>");
  EXPECT_EQ(matcher.push("more").text, "");  // over
  EXPECT_EQ(matcher.flush(), "");
}

TEST(StopStringMatcherTest, HeldTextIsReleasedOnceItCannotBeAStop) {
  StopStringMatcher matcher({"abc"});
  EXPECT_EQ(matcher.push("xab").text, "x");
  const StopStringMatcher::Result r = matcher.push("d");
  EXPECT_FALSE(r.stopped);
  EXPECT_EQ(r.text, "abd");
  EXPECT_EQ(matcher.held_bytes(), 0u);
}

TEST(StopStringMatcherTest, OverlappingPrefixesKeepTheLongestPossibleStart) {
  // "aab" ends "...aa" then "b": the second 'a' starts the match.
  EXPECT_EQ(run({"ab"}, {"a", "a", "b"}), std::make_pair(std::string("a"), true));
  EXPECT_EQ(run({"aab"}, {"a", "a", "a", "b", "c"}), std::make_pair(std::string("a"), true));
}

TEST(StopStringMatcherTest, EarliestOfSeveralStopsWins) {
  StopStringMatcher matcher({"world", "lo w"});
  const StopStringMatcher::Result r = matcher.push("hello world");
  EXPECT_TRUE(r.stopped);
  EXPECT_EQ(r.text, "hel");
  EXPECT_EQ(r.matched, "lo w");
}

TEST(StopStringMatcherTest, FlushReleasesAHeldPrefixAtTheEnd) {
  EXPECT_EQ(run({"STOP"}, {"go ", "ST"}), std::make_pair(std::string("go ST"), false));
}

TEST(StopStringMatcherTest, NeverSplitsAUtf8Character) {
  // The stop begins with a continuation byte of "é" (0xC3 0xA9): holding must
  // not cut the character in two.
  StopStringMatcher matcher({std::string("\xA9X")});
  const StopStringMatcher::Result r = matcher.push("caf\xC3\xA9");
  EXPECT_EQ(r.text, "caf");
  EXPECT_EQ(matcher.flush(), "\xC3\xA9");
  // Multi-byte stop strings match across pieces made of whole characters.
  EXPECT_EQ(run({"\xE2\x86\x92"}, {"a ", "\xE2\x86\x92", " b"}), std::make_pair(std::string("a "), true));
}

TEST(StopStringMatcherTest, EmptyStopStringsAreIgnored) {
  EXPECT_EQ(run({""}, {"abc"}), std::make_pair(std::string("abc"), false));
}

}  // namespace
}  // namespace tether::generation
