#include "common/ascii.h"

#include <gtest/gtest.h>

namespace tether {
namespace {

TEST(AsciiTest, LowersAsciiLettersOnly) {
  EXPECT_EQ(ascii_lower("Content-Type: X-TETHER-Async"), "content-type: x-tether-async");
  EXPECT_EQ(ascii_lower("\xC3\x89t\xC3\xA9 @[`{"), "\xC3\x89t\xC3\xA9 @[`{");  // UTF-8 and the neighbours of A-Z
  EXPECT_EQ(ascii_lower(""), "");
}

}  // namespace
}  // namespace tether
