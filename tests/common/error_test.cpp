#include "common/error.h"

#include <gtest/gtest.h>

namespace tether {
namespace {

TEST(ErrorTest, CarriesCodeAndFormattedMessage) {
  try {
    throw_error(ErrorCode::kCorruptData, "field {} at byte {}", "n_tensors", 16);
    FAIL() << "throw_error returned";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kCorruptData);
    EXPECT_STREQ(e.what(), "field n_tensors at byte 16");
    EXPECT_EQ(error_code_name(e.code()), "corrupt_data");
  }
}

}  // namespace
}  // namespace tether
