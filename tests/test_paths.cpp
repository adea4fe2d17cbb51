#include "test_paths.h"

#include <atomic>
#include <unistd.h>

namespace tether::testing {

std::filesystem::path shared_testdata_dir() {
  if (const char* env = std::getenv("TETHER_SHARED_TESTDATA")) {
    return std::filesystem::path(env);
  }
  auto dir = std::filesystem::path(TETHER_SOURCE_DIR).parent_path() / "shared" / "testdata";
  std::error_code ec;
  if (std::filesystem::is_directory(dir, ec)) return dir;
  return {};
}

std::filesystem::path tether_binary() { return std::filesystem::path(TETHER_BINARY); }

std::filesystem::path make_temp_dir(const std::string& name) {
  static std::atomic<int> counter{0};
  auto dir = std::filesystem::temp_directory_path() /
             ("tether-test-" + std::to_string(getpid()) + "-" + std::to_string(counter++) + "-" + name);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

}  // namespace tether::testing
