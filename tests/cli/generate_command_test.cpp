// Runs the built `tether` binary: generate on a tiny made model.
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "cli_runner.h"
#include "test_paths.h"

namespace tether {
namespace {

using RunResult = testing::CliResult;


// A tiny Q8_0 model with the built-in vocabulary, made once per test run.
const std::string& tiny_model() {
  static const std::string path = [] {
    const std::filesystem::path dir = testing::make_temp_dir("generate_command_test");
    const std::string file = (dir / "tiny.gguf").string();
    const RunResult made = testing::run_tether("make-model --preset tiny --type q8_0 --seed 5 --threads 1 -o " + file);
    EXPECT_EQ(made.exit_code, 0) << made.output;
    return file;
  }();
  return path;
}

TEST(GenerateCommandTest, SeededSamplingIsDeterministicAndStreamsOnlyTextToStdout) {
  const std::string args = "generate -m " + tiny_model() + " -p 'Hello world' -n 24 --temp 0.9 --seed 7 --ignore-eos";
  const RunResult a = testing::run_tether(args, "2>/dev/null");
  const RunResult b = testing::run_tether(args, "2>/dev/null");
  ASSERT_EQ(a.exit_code, 0) << a.output;
  EXPECT_FALSE(a.output.empty());
  EXPECT_EQ(a.output, b.output);
  EXPECT_EQ(a.output.find("tok/s"), std::string::npos) << "summary belongs on stderr";
  const RunResult other_seed = testing::run_tether("generate -m " + tiny_model() +
                                   " -p 'Hello world' -n 24 --temp 0.9 --seed 8 --ignore-eos", "2>/dev/null");
  EXPECT_NE(a.output, other_seed.output);
}

TEST(GenerateCommandTest, SummaryLineOnStderr) {
  const RunResult r = testing::run_tether("generate -m " + tiny_model() + " -p 'Hi' -n 5 --temp 0 --ignore-eos", "2>&1 >/dev/null");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("generated 5 tokens (length)"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("prefill"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("decode"), std::string::npos) << r.output;
}

TEST(GenerateCommandTest, GreedyOutputIsTheSameOnOneAndTwoThreads) {
  const std::string args = "generate -m " + tiny_model() + " -p 'The same text' -n 32 --temp 0 --ignore-eos";
  const RunResult one = testing::run_tether(args + " --threads 1", "2>/dev/null");
  const RunResult two = testing::run_tether(args + " --threads 2", "2>/dev/null");
  ASSERT_EQ(one.exit_code, 0) << one.output;
  EXPECT_EQ(one.output, two.output);
}

TEST(GenerateCommandTest, StopStringCutsTheOutput) {
  const std::string base = "generate -m " + tiny_model() + " -p 'Stop here' -n 32 --temp 0 --ignore-eos";
  const RunResult full = testing::run_tether(base, "2>/dev/null");
  ASSERT_EQ(full.exit_code, 0);
  ASSERT_GT(full.output.size(), 10u);
  std::string stop = full.output.substr(full.output.size() / 2, 2);
  if (stop.find('\'') != std::string::npos || stop.find('\n') != std::string::npos) GTEST_SKIP() << "awkward stop";
  const RunResult cut = testing::run_tether(base + " --stop '" + stop + "'", "2>/dev/null");
  ASSERT_EQ(cut.exit_code, 0);
  EXPECT_EQ(cut.output, full.output.substr(0, full.output.find(stop)) + "\n");
}

TEST(GenerateCommandTest, ChatWrapsThePromptInChatMl) {
  const RunResult r = testing::run_tether("generate -m " + tiny_model() + " -p 'Hi' -n 4 --temp 0 --chat", "2>&1 >/dev/null");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  // ChatML markers are single control tokens: the prompt is longer than 'Hi'.
  EXPECT_NE(r.output.find("prompt "), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("prompt 2 tokens"), std::string::npos) << r.output;
}

TEST(GenerateCommandTest, ErrorsExitNonZeroWithOneLine) {
  const RunResult missing = testing::run_tether("generate -m /nonexistent.gguf -p hi");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.output.find("error"), std::string::npos) << missing.output;
  const RunResult bad_temp = testing::run_tether("generate -m " + tiny_model() + " -p hi --temp -1");
  EXPECT_EQ(bad_temp.exit_code, 1);
  EXPECT_NE(bad_temp.output.find("temperature"), std::string::npos) << bad_temp.output;
  const RunResult bad_top_p = testing::run_tether("generate -m " + tiny_model() + " -p hi --top-p 0");
  EXPECT_EQ(bad_top_p.exit_code, 1);
  EXPECT_NE(testing::run_tether("generate -m " + tiny_model()).exit_code, 0);  // --prompt is required
  EXPECT_NE(testing::run_tether("generate -m " + tiny_model() + " -p hi -n 0").exit_code, 0);
}

}  // namespace
}  // namespace tether
