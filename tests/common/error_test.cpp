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

TEST(ErrorTest, DescribesACaughtException) {
  EXPECT_EQ(describe_exception(std::make_exception_ptr(Error(ErrorCode::kIo, "disk gone"))), "disk gone");
  EXPECT_EQ(describe_exception(std::make_exception_ptr(std::runtime_error("boom"))), "boom");
  EXPECT_EQ(describe_exception(std::make_exception_ptr(42)), "unknown failure");
}

}  // namespace
}  // namespace tether
