// Runs the built `tether` binary: the model bench on a tiny made model.
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <string>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "cli_runner.h"
#include "test_paths.h"

namespace tether {
namespace {

using RunResult = testing::CliResult;


const std::string& tiny_model() {
  static const std::string path = [] {
    const std::filesystem::path dir = testing::make_temp_dir("bench_command_test");
    const std::string file = (dir / "tiny.gguf").string();
    const RunResult made = testing::run_tether("make-model --preset tiny --type q4_K --seed 2 --threads 1 -o " + file);
    EXPECT_EQ(made.exit_code, 0) << made.output;
    return file;
  }();
  return path;
}

TEST(BenchCommandTest, AgentWorkloadReportsCachingOnAndOff) {
  const RunResult r = testing::run_tether("bench --workload agent -m " + tiny_model() +
                                              " --threads 1 --sessions 3 --turns 3 --system-tokens 64"
                                              " --user-tokens 8 --gen-tokens 4 --tool-tokens 12 --block-tokens 16",
                                          "2>/dev/null");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const boost::json::object doc = boost::json::parse(r.output).as_object();
  EXPECT_EQ(doc.at("workload").as_string(), "agent");
  const auto& runs = doc.at("runs").as_array();
  ASSERT_EQ(runs.size(), 2u);
  const auto& on = runs[0].as_object();
  const auto& off = runs[1].as_object();
  EXPECT_TRUE(on.at("prefix_caching").as_bool());
  EXPECT_FALSE(off.at("prefix_caching").as_bool());
  for (const auto* run : {&on, &off}) {
    EXPECT_EQ(run->at("requests").as_int64(), 9);
    // Greedy: the same conversations, so the same prompts, either way.
    EXPECT_EQ(run->at("prompt_tokens").as_int64(), on.at("prompt_tokens").as_int64());
    EXPECT_GT(run->at("output_tokens_per_s").to_number<double>(), 0.0);
    EXPECT_GT(run->at("ttft_ms").as_object().at("warm").as_object().at("p50").to_number<double>(), 0.0);
  }
  // The shared system prompt and each session's history are reused with
  // caching on, never with it off.
  EXPECT_GT(on.at("cached_share").to_number<double>(), 0.5);
  EXPECT_EQ(off.at("cached_share").to_number<double>(), 0.0);
  EXPECT_EQ(off.at("cached_prompt_tokens").as_int64(), 0);
}

TEST(BenchCommandTest, AgentWorkloadRejectsBadSizes) {
  const RunResult r = testing::run_tether("bench --workload agent -m " + tiny_model() + " --sessions 0");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("--sessions"), std::string::npos) << r.output;
}

TEST(BenchCommandTest, ModelWorkloadPrintsEveryFigure) {
  const RunResult r = testing::run_tether("bench -m " + tiny_model() +
                              " --threads 1 --prefill-tokens 32 --decode-tokens 4 --batch 2,3 --repeats 1"
                              " --bandwidth-mb 8",
                          "2>/dev/null");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const boost::json::object doc = boost::json::parse(r.output).as_object();
  EXPECT_EQ(doc.at("workload").as_string(), "model");
  EXPECT_EQ(doc.at("arch").as_string(), "llama");
  EXPECT_EQ(doc.at("threads").as_int64(), 1);
  const auto& prefill = doc.at("prefill").as_object();
  EXPECT_EQ(prefill.at("tokens").as_int64(), 32);
  EXPECT_GT(prefill.at("tokens_per_s").to_number<double>(), 0.0);
  const auto& decode = doc.at("decode").as_object();
  EXPECT_GT(decode.at("tokens_per_s").to_number<double>(), 0.0);
  EXPECT_GT(decode.at("bandwidth_gbps").to_number<double>(), 0.0);
  EXPECT_GT(decode.at("limit_tokens_per_s").to_number<double>(), 0.0);
  EXPECT_GT(decode.at("fraction_of_limit").to_number<double>(), 0.0);
  // Tiny preset: 2 layers of 4 x 256^2-ish attention and 3 x 256x768 FFN
  // matrices plus a 4096x256 output, in Q4_K (144 bytes per 256 weights).
  const int64_t per_token = decode.at("weight_bytes_per_token").as_int64();
  EXPECT_GT(per_token, 2 * (3 * 256 * 768) * 144 / 256);
  EXPECT_LT(per_token, doc.at("memory").as_object().at("weight_bytes").as_int64());
  const auto& batched = doc.at("batched_decode").as_array();
  ASSERT_EQ(batched.size(), 2u);
  EXPECT_EQ(batched[0].as_object().at("sequences").as_int64(), 2);
  EXPECT_EQ(batched[1].as_object().at("sequences").as_int64(), 3);
  EXPECT_GT(batched[1].as_object().at("tokens_per_s").to_number<double>(), 0.0);
  const auto& memory = doc.at("memory").as_object();
  EXPECT_GT(memory.at("peak_rss_bytes").as_int64(), 0);
  EXPECT_GT(memory.at("kv_bytes").as_int64(), 0);
  EXPECT_EQ(memory.at("bound_bytes").as_int64(), memory.at("weight_bytes").as_int64() +
                                                     memory.at("kv_bytes").as_int64() + (int64_t{64} << 20));
}

TEST(BenchCommandTest, BadModelOptionsExitNonZero) {
  const RunResult zero = testing::run_tether("bench -m " + tiny_model() + " --prefill-tokens 0");
  EXPECT_EQ(zero.exit_code, 1);
  EXPECT_NE(zero.output.find("error"), std::string::npos) << zero.output;
  EXPECT_EQ(testing::run_tether("bench -m " + tiny_model() + " --prefill-tokens 4000 --repeats 1").exit_code, 1);  // > context
  EXPECT_NE(testing::run_tether("bench -m /nonexistent.gguf").exit_code, 0);
}

}  // namespace
}  // namespace tether
