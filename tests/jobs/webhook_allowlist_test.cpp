#include "jobs/webhook_allowlist.h"

#include <gtest/gtest.h>

#include "common/error.h"

namespace tether::jobs {
namespace {

TEST(WebhookAllowlistTest, AnEmptyAllowlistAllowsNothing) {
  const WebhookAllowlist allowlist;
  EXPECT_TRUE(allowlist.empty());
  const auto refusal = allowlist.check("http://a/hooks");
  ASSERT_TRUE(refusal.has_value());
  EXPECT_NE(refusal->find("http://a/hooks"), std::string::npos) << *refusal;
  EXPECT_FALSE(WebhookAllowlist(std::vector<std::string>{}).allows("http://a/"));
}

TEST(WebhookAllowlistTest, PathPrefixEndsAtASlashBoundary) {
  const WebhookAllowlist allowlist({"http://a/hooks"});
  EXPECT_TRUE(allowlist.allows("http://a/hooks"));
  EXPECT_TRUE(allowlist.allows("http://a/hooks/"));
  EXPECT_TRUE(allowlist.allows("http://a/hooks/x"));
  EXPECT_TRUE(allowlist.allows("http://a/hooks/x/y?token=1"));
  EXPECT_FALSE(allowlist.allows("http://a/hooksx"));
  EXPECT_FALSE(allowlist.allows("http://a/hook"));
  EXPECT_FALSE(allowlist.allows("http://a/"));
  EXPECT_FALSE(allowlist.allows("http://a/other/hooks"));
}

TEST(WebhookAllowlistTest, AnEntryEndingInSlashNeedsTheSlash) {
  const WebhookAllowlist allowlist({"http://a/hooks/"});
  EXPECT_TRUE(allowlist.allows("http://a/hooks/"));
  EXPECT_TRUE(allowlist.allows("http://a/hooks/x"));
  EXPECT_FALSE(allowlist.allows("http://a/hooks"));
}

TEST(WebhookAllowlistTest, AnEntryWithoutPathAllowsTheWholeHost) {
  const WebhookAllowlist allowlist({"http://a"});
  EXPECT_TRUE(allowlist.allows("http://a"));
  EXPECT_TRUE(allowlist.allows("http://a/"));
  EXPECT_TRUE(allowlist.allows("http://a/anything/at/all"));
  EXPECT_FALSE(allowlist.allows("http://b/"));
}

TEST(WebhookAllowlistTest, SchemeMustMatch) {
  const WebhookAllowlist allowlist({"https://a/hooks"});
  EXPECT_TRUE(allowlist.allows("https://a/hooks/x"));
  EXPECT_TRUE(allowlist.allows("HTTPS://a/hooks/x"));
  EXPECT_FALSE(allowlist.allows("http://a/hooks/x"));
  EXPECT_FALSE(allowlist.allows("ftp://a/hooks/x"));
}

TEST(WebhookAllowlistTest, HostMatchesInAnyCaseButExactly) {
  const WebhookAllowlist allowlist({"http://Hooks.Example.com/in"});
  EXPECT_TRUE(allowlist.allows("http://hooks.example.com/in"));
  EXPECT_TRUE(allowlist.allows("http://HOOKS.EXAMPLE.COM/in/x"));
  EXPECT_FALSE(allowlist.allows("http://evil.hooks.example.com/in"));
  EXPECT_FALSE(allowlist.allows("http://hooks.example.com.evil/in"));
  EXPECT_FALSE(allowlist.allows("http://hooks.example.co/in"));
}

TEST(WebhookAllowlistTest, PortsMatchWithDefaultsApplied) {
  const WebhookAllowlist allowlist({"http://a/hooks", "https://b/hooks", "http://c:8080/hooks"});
  EXPECT_TRUE(allowlist.allows("http://a:80/hooks"));
  EXPECT_TRUE(allowlist.allows("http://a:/hooks"));  // an empty port is the default
  EXPECT_FALSE(allowlist.allows("http://a:8080/hooks"));
  EXPECT_TRUE(allowlist.allows("https://b:443/hooks"));
  EXPECT_FALSE(allowlist.allows("https://b:80/hooks"));
  EXPECT_TRUE(allowlist.allows("http://c:8080/hooks/x"));
  EXPECT_FALSE(allowlist.allows("http://c/hooks/x"));
  EXPECT_FALSE(allowlist.allows("http://c:8081/hooks/x"));
}

TEST(WebhookAllowlistTest, IpAddressesMatchAsWritten) {
  const WebhookAllowlist allowlist({"http://127.0.0.1:9000/h", "http://[::1]:9000/h"});
  EXPECT_TRUE(allowlist.allows("http://127.0.0.1:9000/h/1"));
  EXPECT_TRUE(allowlist.allows("http://[::1]:9000/h/1"));
  EXPECT_FALSE(allowlist.allows("http://127.0.0.2:9000/h/1"));
  EXPECT_EQ(parse_webhook_url("http://[::1]:9000/h").host, "::1");
}

TEST(WebhookAllowlistTest, RefusesUserinfoInTargets) {
  const WebhookAllowlist allowlist({"http://a/hooks"});
  const auto refusal = allowlist.check("http://user:pass@a/hooks");
  ASSERT_TRUE(refusal.has_value());
  EXPECT_NE(refusal->find("userinfo"), std::string::npos) << *refusal;
  EXPECT_FALSE(allowlist.allows("http://user@a/hooks"));
  EXPECT_FALSE(allowlist.allows("http://@a/hooks"));
  // The classic confusion: the host here is "b", not "a".
  EXPECT_FALSE(allowlist.allows("http://a@b/hooks"));
}

TEST(WebhookAllowlistTest, RefusesWhatIsNotAnAbsoluteHttpUrl) {
  const WebhookAllowlist allowlist({"http://a/hooks"});
  for (const char* url : {"", "a/hooks", "/hooks", "//a/hooks", "http:/hooks", "http:///hooks", "mailto:x@a",
                          "http://a/hooks#frag", "http://a b/hooks", "http://a:99999/hooks", "http://a:0/hooks",
                          "http://a%00/hooks"}) {
    const auto refusal = allowlist.check(url);
    EXPECT_TRUE(refusal.has_value()) << url;
  }
}

TEST(WebhookAllowlistTest, RefusesDotSegmentsThatCouldLeaveThePrefix) {
  const WebhookAllowlist allowlist({"http://a/hooks"});
  EXPECT_FALSE(allowlist.allows("http://a/hooks/../admin"));
  EXPECT_FALSE(allowlist.allows("http://a/hooks/%2e%2e/admin"));
  EXPECT_FALSE(allowlist.allows("http://a/hooks/./x"));
  EXPECT_FALSE(allowlist.allows("http://a/hooks/..%2Fadmin"));
  EXPECT_FALSE(allowlist.allows("http://a/hooks%2F..%2Fadmin"));
  EXPECT_TRUE(allowlist.allows("http://a/hooks/..x"));  // a plain name that starts with dots
}

TEST(WebhookAllowlistTest, RejectsBadEntries) {
  for (const char* entry :
       {"a/hooks", "ftp://a/", "http://u:p@a/", "http://a/?q=1", "http://a/#x", "http://a:70000/"}) {
    try {
      WebhookAllowlist allowlist({entry});
      ADD_FAILURE() << "accepted " << entry;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
      EXPECT_NE(std::string(e.what()).find(entry), std::string::npos) << e.what();
    }
  }
}

TEST(WebhookAllowlistTest, ParsesTheRequestTarget) {
  const WebhookUrl url = parse_webhook_url("http://Example.COM:8080/a/b?x=1&y=2");
  EXPECT_EQ(url.scheme, "http");
  EXPECT_EQ(url.host, "example.com");
  EXPECT_EQ(url.port, 8080);
  EXPECT_EQ(url.path, "/a/b");
  EXPECT_EQ(url.target, "/a/b?x=1&y=2");
  EXPECT_EQ(parse_webhook_url("http://a").target, "/");
  EXPECT_EQ(parse_webhook_url("https://a/").port, 443);
}

}  // namespace
}  // namespace tether::jobs
