#include "http/router.h"

#include <gtest/gtest.h>

#include "common/error.h"

namespace tether::http {
namespace {

boost::asio::awaitable<void> noop(Exchange&) { co_return; }

TEST(RouterTest, MatchesLiteralsParamsAndRest) {
  Router router;
  router.add("GET", "/v1/models", noop);
  router.add("POST", "/v1/chat/completions", noop);
  router.add("POST", "/ai/run/{model...}", noop);
  router.add("POST", "/accounts/{account}/ai/run/{model...}", noop);

  auto found = router.match("POST", "/ai/run/@cf/meta/llama-3.1-8b-instruct");
  ASSERT_EQ(found.kind, Router::Match::Kind::kFound);
  EXPECT_EQ(found.pattern, "/ai/run/{model...}");
  ASSERT_EQ(found.params.size(), 1u);
  EXPECT_EQ(found.params[0].second, "@cf/meta/llama-3.1-8b-instruct");

  auto account = router.match("POST", "/accounts/abc%20d/ai/run/%40cf/moonshotai/kimi-k2.5");
  ASSERT_EQ(account.kind, Router::Match::Kind::kFound);
  ASSERT_EQ(account.params.size(), 2u);
  EXPECT_EQ(account.params[0], (std::pair<std::string, std::string>{"account", "abc d"}));
  EXPECT_EQ(account.params[1], (std::pair<std::string, std::string>{"model", "@cf/moonshotai/kimi-k2.5"}));

  EXPECT_EQ(router.match("GET", "/v1/models").kind, Router::Match::Kind::kFound);
  EXPECT_EQ(router.match("GET", "/v1/models/extra").kind, Router::Match::Kind::kNotFound);
  EXPECT_EQ(router.match("GET", "/v1").kind, Router::Match::Kind::kNotFound);
  EXPECT_EQ(router.match("POST", "/ai/run/").kind, Router::Match::Kind::kNotFound);
  EXPECT_EQ(router.match("POST", "/ai/run").kind, Router::Match::Kind::kNotFound);
  EXPECT_EQ(router.match("GET", "/v1/bad%zzescape").kind, Router::Match::Kind::kNotFound);
}

TEST(RouterTest, WrongMethodListsAllowed) {
  Router router;
  router.add("GET", "/things/{id}", noop);
  router.add("DELETE", "/things/{id}", noop);
  auto match = router.match("POST", "/things/7");
  EXPECT_EQ(match.kind, Router::Match::Kind::kMethodNotAllowed);
  EXPECT_EQ(match.allow, "GET, DELETE");
  EXPECT_EQ(router.match("POST", "/things").kind, Router::Match::Kind::kNotFound);
}

TEST(RouterTest, RejectsMalformedPatterns) {
  Router router;
  EXPECT_THROW(router.add("GET", "no-slash", noop), Error);
  EXPECT_THROW(router.add("GET", "/a/{rest...}/b", noop), Error);
  EXPECT_THROW(router.add("GET", "/a/{}", noop), Error);
}

}  // namespace
}  // namespace tether::http
