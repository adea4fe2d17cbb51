#include "engine/model/demo_model.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <optional>
#include <thread>

#include "common/error.h"
#include "engine/gguf/gguf_file.h"
#include "test_paths.h"

namespace tether::model {
namespace {

// Sets (or unsets) an environment variable for one scope.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, std::optional<std::string> value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value) {
      ::setenv(name, value->c_str(), 1);
    } else {
      ::unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

TEST(DemoModelTest, DataDirFollowsTetherThenXdgThenHome) {
  auto root = testing::make_temp_dir("data-dir");
  {
    ScopedEnv tether("TETHER_DATA_DIR", (root / "tether-dir" / "nested").string());
    EXPECT_EQ(data_dir(), root / "tether-dir" / "nested");
    EXPECT_TRUE(std::filesystem::is_directory(root / "tether-dir" / "nested"));
  }
  {
    ScopedEnv tether("TETHER_DATA_DIR", std::nullopt);
    ScopedEnv xdg("XDG_DATA_HOME", (root / "xdg").string());
    EXPECT_EQ(data_dir(), root / "xdg" / "tether");
  }
  {
    ScopedEnv tether("TETHER_DATA_DIR", "");
    ScopedEnv xdg("XDG_DATA_HOME", "relative/ignored");
    ScopedEnv home("HOME", (root / "home").string());
    EXPECT_EQ(data_dir(), root / "home" / ".local" / "share" / "tether");
  }
  {
    std::ofstream(root / "a-file") << "x";
    ScopedEnv tether("TETHER_DATA_DIR", (root / "a-file").string());
    EXPECT_THROW(data_dir(), Error);
  }
  std::filesystem::remove_all(root);
}

TEST(DemoModelTest, DemoIsMadeOnceAndResolved) {
  auto root = testing::make_temp_dir("demo-model");
  ScopedEnv tether("TETHER_DATA_DIR", root.string());
  auto path = ensure_demo_model();
  EXPECT_EQ(path.parent_path(), root / "models");
  ASSERT_TRUE(std::filesystem::is_regular_file(path));
  auto written_at = std::filesystem::last_write_time(path);

  auto file = gguf::GgufFile::open(path);
  EXPECT_EQ(file.get_string("general.architecture"), "llama");
  EXPECT_EQ(file.get_string("general.name"), "tether-demo");
  EXPECT_EQ(file.get_uint("llama.embedding_length"), 256u);
  EXPECT_NE(file.find("tokenizer.chat_template"), nullptr);

  // Cached: the second use finds the file and does not rewrite it.
  EXPECT_EQ(ensure_demo_model(), path);
  EXPECT_EQ(std::filesystem::last_write_time(path), written_at);
  EXPECT_EQ(resolve_model_path("demo"), path);
  std::filesystem::remove_all(root);
}

TEST(DemoModelTest, ConcurrentFirstUsesAgreeAndLeaveOneValidFile) {
  auto root = testing::make_temp_dir("demo-model-race");
  ScopedEnv tether("TETHER_DATA_DIR", root.string());
  constexpr int kThreads = 4;
  std::vector<std::filesystem::path> paths(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&paths, i] { paths[i] = ensure_demo_model(); });
  }
  for (auto& thread : threads) thread.join();
  for (const auto& path : paths) EXPECT_EQ(path, paths[0]);
  EXPECT_NO_THROW(gguf::GgufFile::open(paths[0]));
  // Only the model remains: every writer's temporary file was renamed away.
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(root / "models"), {}), 1);
  std::filesystem::remove_all(root);
}

TEST(DemoModelTest, OtherArgumentsMustNameExistingFiles) {
  auto root = testing::make_temp_dir("resolve-model");
  auto model = root / "model.gguf";
  std::ofstream(model) << "not checked here";
  EXPECT_EQ(resolve_model_path(model.string()), model);
  try {
    resolve_model_path((root / "missing.gguf").string());
    ADD_FAILURE() << "a missing file resolved";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::kNotFound);
    EXPECT_NE(std::string(error.what()).find("missing.gguf"), std::string::npos);
  }
  EXPECT_THROW(resolve_model_path(root.string()), Error);  // a directory
  EXPECT_THROW(resolve_model_path(""), Error);
  std::filesystem::remove_all(root);
}

}  // namespace
}  // namespace tether::model
