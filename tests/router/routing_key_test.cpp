#include "router/routing_key.h"

#include <algorithm>
#include <string>

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

namespace tether::router {
namespace {

boost::json::object parse_object(std::string_view text) { return boost::json::parse(text).as_object(); }

TEST(RoutingKeyTest, ChunkHashesCoverWholeChunksOnly) {
  EXPECT_TRUE(prefix_chunk_hashes("", 4).empty());
  EXPECT_TRUE(prefix_chunk_hashes("abc", 4).empty());
  EXPECT_TRUE(prefix_chunk_hashes("abcdefgh", 0).empty());
  EXPECT_EQ(prefix_chunk_hashes("abcdefgh", 4).size(), 2u);
  // The partial tail is left out: extending it changes nothing until it fills.
  EXPECT_EQ(prefix_chunk_hashes("abcdefghij", 4), prefix_chunk_hashes("abcdefgh", 4));
  EXPECT_EQ(prefix_chunk_hashes("abcdefghijk", 4), prefix_chunk_hashes("abcdefgh", 4));
  EXPECT_EQ(prefix_chunk_hashes("abcdefghijkl", 4).size(), 3u);
}

TEST(RoutingKeyTest, ChunkHashesAreChained) {
  const std::vector<uint64_t> a = prefix_chunk_hashes("AAAABBBBCCCC", 4);
  const std::vector<uint64_t> b = prefix_chunk_hashes("XXXXBBBBCCCC", 4);
  ASSERT_EQ(a.size(), 3u);
  ASSERT_EQ(b.size(), 3u);
  // Equal chunks after a different first chunk hash differently.
  EXPECT_NE(a[0], b[0]);
  EXPECT_NE(a[1], b[1]);
  EXPECT_NE(a[2], b[2]);
  // A shared head hashes alike; the chains part where the texts do.
  const std::vector<uint64_t> c = prefix_chunk_hashes("AAAABBBBDDDD", 4);
  EXPECT_EQ(a[0], c[0]);
  EXPECT_EQ(a[1], c[1]);
  EXPECT_NE(a[2], c[2]);
  // Stable across calls.
  EXPECT_EQ(prefix_chunk_hashes("AAAABBBBCCCC", 4), a);
}

TEST(RoutingKeyTest, NextTurnTextExtendsThisTurns) {
  const boost::json::object turn1 = parse_object(R"({
    "model": "m", "stream": true,
    "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}],
    "messages": [{"role": "system", "content": "You are terse."},
                 {"role": "user", "content": "Weather in Oslo?"}]})");
  const boost::json::object turn2 = parse_object(R"({
    "model": "m", "stream": false, "temperature": 0.2,
    "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}],
    "messages": [{"role": "system", "content": "You are terse."},
                 {"role": "user", "content": "Weather in Oslo?"},
                 {"role": "assistant", "content": "Rain."},
                 {"role": "user", "content": [{"type": "text", "text": "And tomorrow?"}]}]})");
  const std::string text1 = routing_text(turn1);
  const std::string text2 = routing_text(turn2);
  EXPECT_TRUE(text2.starts_with(text1)) << text1 << "\n---\n" << text2;
  EXPECT_GT(text2.size(), text1.size());
  EXPECT_NE(text1.find("Weather in Oslo?"), std::string::npos);
  EXPECT_NE(text1.find("get_weather"), std::string::npos);
  // Sampling fields are not part of the prefix.
  EXPECT_EQ(text1.find("stream"), std::string::npos);

  // So the first turn's whole chunks are the head of the second's chain.
  const std::vector<uint64_t> chain1 = prefix_chunk_hashes(text1, 16);
  const std::vector<uint64_t> chain2 = prefix_chunk_hashes(text2, 16);
  ASSERT_FALSE(chain1.empty());
  ASSERT_GT(chain2.size(), chain1.size());
  EXPECT_TRUE(std::equal(chain1.begin(), chain1.end(), chain2.begin()));
}

TEST(RoutingKeyTest, ToolsChangeTheText) {
  const boost::json::object with_tools = parse_object(R"({
    "tools": [{"type": "function", "function": {"name": "a"}}],
    "messages": [{"role": "user", "content": "hi"}]})");
  const boost::json::object other_tools = parse_object(R"({
    "tools": [{"type": "function", "function": {"name": "b"}}],
    "messages": [{"role": "user", "content": "hi"}]})");
  const boost::json::object no_tools = parse_object(R"({"messages": [{"role": "user", "content": "hi"}]})");
  EXPECT_NE(routing_text(with_tools), routing_text(other_tools));
  EXPECT_NE(routing_text(with_tools), routing_text(no_tools));
  // The tools come first: the texts part before the messages begin.
  const std::string a = routing_text(with_tools);
  const std::string b = routing_text(other_tools);
  const size_t first_difference =
      static_cast<size_t>(std::mismatch(a.begin(), a.end(), b.begin(), b.end()).first - a.begin());
  EXPECT_LT(first_difference, a.find("\"hi\""));
}

TEST(RoutingKeyTest, PromptIsUsedWithoutMessages) {
  const boost::json::object a = parse_object(R"({"prompt": "Once upon a time"})");
  const boost::json::object b = parse_object(R"({"prompt": "Once upon a time, there was"})");
  EXPECT_NE(routing_text(a).find("Once upon a time"), std::string::npos);
  EXPECT_TRUE(routing_text(b).starts_with(routing_text(a)));
  // Messages win over a prompt.
  const boost::json::object both = parse_object(R"({"prompt": "P", "messages": [{"role": "user", "content": "M"}]})");
  EXPECT_EQ(routing_text(both).find("\"P\""), std::string::npos);
  EXPECT_NE(routing_text(both).find("\"M\""), std::string::npos);
}

TEST(RoutingKeyTest, OddFieldsAreSkipped) {
  EXPECT_EQ(routing_text(parse_object("{}")), "");
  EXPECT_EQ(routing_text(parse_object(R"({"prompt": 7, "tools": null})")), "");
  EXPECT_EQ(routing_text(parse_object(R"({"messages": "not a list"})")), "");
  const std::string text = routing_text(parse_object(R"({"messages": [1, "x", null, {"role": "user", "content": "ok"}]})"));
  EXPECT_NE(text.find("ok"), std::string::npos);
  EXPECT_EQ(text.find("\"x\""), std::string::npos);
}

TEST(RoutingKeyTest, AffinityKeySources) {
  const boost::json::object body = parse_object(R"({"prompt_cache_key": "pck", "user": "alice"})");
  const boost::json::object user_only = parse_object(R"({"user": "alice"})");
  const boost::json::object odd = parse_object(R"({"prompt_cache_key": 5, "user": ""})");
  AffinitySources defaults;
  AffinitySources with_user{.prompt_cache_key = true, .user = true};
  AffinitySources none{.prompt_cache_key = false, .user = false};

  EXPECT_EQ(affinity_key("hdr", body, defaults), "hdr");
  EXPECT_EQ(affinity_key("hdr", body, none), "hdr");
  EXPECT_EQ(affinity_key("", body, defaults), "pck");  // an empty header does not count
  EXPECT_EQ(affinity_key(std::nullopt, body, defaults), "pck");
  EXPECT_EQ(affinity_key(std::nullopt, body, with_user), "pck");
  EXPECT_EQ(affinity_key(std::nullopt, user_only, defaults), std::nullopt);  // user is off by default
  EXPECT_EQ(affinity_key(std::nullopt, user_only, with_user), "alice");
  EXPECT_EQ(affinity_key(std::nullopt, body, AffinitySources{.prompt_cache_key = false, .user = true}), "alice");
  EXPECT_EQ(affinity_key(std::nullopt, body, none), std::nullopt);
  EXPECT_EQ(affinity_key(std::nullopt, odd, with_user), std::nullopt);
}

}  // namespace
}  // namespace tether::router
