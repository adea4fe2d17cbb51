#include "jobs/webhook_signer.h"

#include <gtest/gtest.h>

namespace tether::jobs {
namespace {

constexpr std::string_view kSecret = "whsec_test";
constexpr std::string_view kBody = R"({"type":"tether.model.batch.succeeded"})";
constexpr int64_t kTimestamp = 1'700'000'000;
// Derived outside tether, with OpenSSL's command line:
//   printf '%s' '1700000000.{"type":"tether.model.batch.succeeded"}' | openssl dgst -sha256 -hmac 'whsec_test'
constexpr std::string_view kExpected = "v1=cb30d998cb9942775309b73cd3b7c6b22c27e622629118bd63677d50f29ec9c2";

TEST(WebhookSignerTest, MatchesAnIndependentlyComputedHmac) {
  EXPECT_EQ(sign(kSecret, kTimestamp, kBody), kExpected);
}

TEST(WebhookSignerTest, SignsWithAnEmptySecretAndBody) {
  // printf '%s' '1700000000.' | openssl dgst -sha256 -hmac ''
  EXPECT_EQ(sign("", kTimestamp, ""), "v1=c1da1b6c6b8e9da7f4bbb90f7cab0820f271ad19ccbf80c88479c4e14f37d1c6");
}

TEST(WebhookSignerTest, TheSignatureCoversSecretTimestampAndBody) {
  const std::string base = sign(kSecret, kTimestamp, kBody);
  EXPECT_NE(sign("whsec_other", kTimestamp, kBody), base);
  EXPECT_NE(sign(kSecret, kTimestamp + 1, kBody), base);
  EXPECT_NE(sign(kSecret, kTimestamp, std::string(kBody) + " "), base);
}

TEST(WebhookSignerTest, VerifiesItsOwnSignature) {
  const std::string header = sign(kSecret, kTimestamp, kBody);
  EXPECT_TRUE(verify(kSecret, header, kTimestamp, kBody, kTimestamp, 300));
  EXPECT_TRUE(verify(kSecret, kExpected, kTimestamp, kBody, kTimestamp + 10, 300));
}

TEST(WebhookSignerTest, RejectsAWrongSecretBodyOrTimestamp) {
  EXPECT_FALSE(verify("whsec_other", kExpected, kTimestamp, kBody, kTimestamp, 300));
  EXPECT_FALSE(verify(kSecret, kExpected, kTimestamp, std::string(kBody) + " ", kTimestamp, 300));
  // The header's timestamp was changed: the MAC no longer matches.
  EXPECT_FALSE(verify(kSecret, kExpected, kTimestamp + 1, kBody, kTimestamp, 300));
}

TEST(WebhookSignerTest, RejectsStaleAndFarFutureTimestamps) {
  EXPECT_TRUE(verify(kSecret, kExpected, kTimestamp, kBody, kTimestamp + 300, 300));
  EXPECT_FALSE(verify(kSecret, kExpected, kTimestamp, kBody, kTimestamp + 301, 300));
  EXPECT_TRUE(verify(kSecret, kExpected, kTimestamp, kBody, kTimestamp - 300, 300));
  EXPECT_FALSE(verify(kSecret, kExpected, kTimestamp, kBody, kTimestamp - 301, 300));
  EXPECT_FALSE(verify(kSecret, kExpected, kTimestamp, kBody, INT64_MAX, 300));
  EXPECT_FALSE(verify(kSecret, kExpected, kTimestamp, kBody, kTimestamp, -1));
}

TEST(WebhookSignerTest, AcceptsAnyOfSeveralSignaturesForSecretRotation) {
  const std::string old_signature = sign("whsec_old", kTimestamp, kBody);
  const std::string header = old_signature + ", " + std::string(kExpected);
  EXPECT_TRUE(verify(kSecret, header, kTimestamp, kBody, kTimestamp, 300));
  EXPECT_TRUE(verify("whsec_old", header, kTimestamp, kBody, kTimestamp, 300));
  EXPECT_FALSE(verify("whsec_third", header, kTimestamp, kBody, kTimestamp, 300));
  // Unknown schemes are skipped, not an error.
  EXPECT_TRUE(verify(kSecret, "v0=abc," + std::string(kExpected), kTimestamp, kBody, kTimestamp, 300));
}

TEST(WebhookSignerTest, RejectsMalformedHeaders) {
  const std::string hex(kExpected.substr(3));
  EXPECT_FALSE(verify(kSecret, "", kTimestamp, kBody, kTimestamp, 300));
  EXPECT_FALSE(verify(kSecret, hex, kTimestamp, kBody, kTimestamp, 300));          // no "v1="
  EXPECT_FALSE(verify(kSecret, "v2=" + hex, kTimestamp, kBody, kTimestamp, 300));  // another version
  EXPECT_FALSE(verify(kSecret, std::string(kExpected) + "00", kTimestamp, kBody, kTimestamp, 300));
  EXPECT_FALSE(verify(kSecret, kExpected.substr(0, kExpected.size() - 1), kTimestamp, kBody, kTimestamp, 300));
  std::string upper(kExpected);
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  upper.replace(0, 3, "v1=");
  EXPECT_FALSE(verify(kSecret, upper, kTimestamp, kBody, kTimestamp, 300));  // the hex is lower case
}

}  // namespace
}  // namespace tether::jobs
