#pragma once

#include <filesystem>
#include <string>

namespace tether::testing {

// ../shared/testdata beside the project root; empty when absent (a user's
// machine), and tests that need it skip saying so.
std::filesystem::path shared_testdata_dir();

// The built `tether` binary, for tests of the command line.
std::filesystem::path tether_binary();

// A fresh, empty directory for one test's files.
std::filesystem::path make_temp_dir(const std::string& name);

}  // namespace tether::testing

#define TETHER_SKIP_WITHOUT_SHARED_TESTDATA()                                   \
  do {                                                                          \
    if (::tether::testing::shared_testdata_dir().empty())                       \
      GTEST_SKIP() << "../shared/testdata is absent (only the project's own "   \
                      "checkout has it); skipping conformance vectors";         \
  } while (0)
