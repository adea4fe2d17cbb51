// Runs the built `tether` binary: tokenize and bench on real vocab files.
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>

#include <gtest/gtest.h>

#include "cli_runner.h"
#include "test_paths.h"

namespace tether {
namespace {

using RunResult = testing::CliResult;


std::string vocab(const char* family) {
  return (testing::shared_testdata_dir() / "vocab" / (std::string("ggml-vocab-") + family + ".gguf"))
      .string();
}

TEST(TokenizeCommandTest, PrintsIdsPiecesAndCount) {
  TETHER_SKIP_WITHOUT_SHARED_TESTDATA();
  const RunResult r = testing::run_tether("tokenize --model " + vocab("gpt-2") + " 'Hello world'");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("15496  'Hello'"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("995  ' world'"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("2 tokens"), std::string::npos) << r.output;
}

TEST(TokenizeCommandTest, JsonOutputAndBosHandling) {
  TETHER_SKIP_WITHOUT_SHARED_TESTDATA();
  const RunResult with_bos = testing::run_tether("tokenize --json -m " + vocab("llama-spm") + " 'Hello world'");
  ASSERT_EQ(with_bos.exit_code, 0) << with_bos.output;
  EXPECT_EQ(with_bos.output,
            "{\"ids\":[1,15043,3186],\"pieces\":[\"<s>\",\" Hello\",\" world\"],\"count\":3}\n");
  const RunResult no_bos = testing::run_tether("tokenize --json --no-bos -m " + vocab("llama-spm") + " 'Hello world'");
  EXPECT_NE(no_bos.output.find("\"ids\":[15043,3186]"), std::string::npos) << no_bos.output;
}

TEST(TokenizeCommandTest, SpecialFlagParsesControlTokens) {
  TETHER_SKIP_WITHOUT_SHARED_TESTDATA();
  const RunResult plain = testing::run_tether("tokenize --json -m " + vocab("gpt-2") + " 'a<|endoftext|>'");
  EXPECT_EQ(plain.output.find("50256"), std::string::npos) << plain.output;
  const RunResult special = testing::run_tether("tokenize --json --special -m " + vocab("gpt-2") + " 'a<|endoftext|>'");
  EXPECT_NE(special.output.find("\"ids\":[64,50256]"), std::string::npos) << special.output;
}

TEST(TokenizeCommandTest, DashReadsTheTextFromStandardInput) {
  TETHER_SKIP_WITHOUT_SHARED_TESTDATA();
  const RunResult r = testing::run_tether("tokenize --json --no-bos -m " + vocab("gpt-2") + " -", "2>&1", "Hello world");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("\"ids\":[15496,995]"), std::string::npos) << r.output;
}

TEST(TokenizeCommandTest, ErrorsExitNonZeroWithAMessage) {
  const RunResult missing = testing::run_tether("tokenize --model /nonexistent/file.gguf hi");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.output.find("error"), std::string::npos) << missing.output;
  EXPECT_NE(testing::run_tether("tokenize hi").exit_code, 0);  // --model is required
}

TEST(BenchCommandTest, TokenizeWorkloadPrintsJson) {
  TETHER_SKIP_WITHOUT_SHARED_TESTDATA();
  const RunResult r = testing::run_tether("bench --workload tokenize --text-mb 0.05 --repeats 1 -m " + vocab("gpt-2"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (const char* key : {"\"bytes\":", "\"tokens\":", "\"seconds\":", "\"tokens_per_s\":",
                          "\"mb_per_s\":", "\"cpu_seconds\":"}) {
    EXPECT_NE(r.output.find(key), std::string::npos) << key << " in " << r.output;
  }
  EXPECT_NE(testing::run_tether("bench --workload nope -m " + vocab("gpt-2")).exit_code, 0);
}

}  // namespace
}  // namespace tether
