// Runs the built `tether` binary: the constrain bench on a tiny made model.
#include <filesystem>
#include <string>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "cli_runner.h"
#include "test_paths.h"

namespace tether {
namespace {

TEST(BenchConstrainTest, ReportsBothModesMasksAndRatio) {
  const std::filesystem::path dir = testing::make_temp_dir("bench_constrain_test");
  const std::string model = (dir / "tiny.gguf").string();
  const testing::CliResult made =
      testing::run_tether("make-model --preset tiny --type q8_0 --seed 4 --threads 1 -o " + model);
  ASSERT_EQ(made.exit_code, 0) << made.output;
  std::string command = "bench --workload constrain -m " + model + " --threads 1 --decode-tokens 160 --repeats 3";
  const bool have_vocab =
      std::filesystem::exists(testing::shared_testdata_dir() / "vocab" / "ggml-vocab-gpt-2.gguf");
  if (have_vocab) command += " --vocab " + (testing::shared_testdata_dir() / "vocab" / "ggml-vocab-gpt-2.gguf").string();
  const testing::CliResult r = testing::run_tether(command, "2>/dev/null");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const boost::json::object doc = boost::json::parse(r.output).as_object();
  EXPECT_EQ(doc.at("workload").as_string(), "constrain");
  const auto& constrained = doc.at("constrained").as_object();
  EXPECT_GT(constrained.at("tokens").to_number<int64_t>(), 0);
  // Every constrained sequence that ended by itself is a valid document.
  EXPECT_EQ(constrained.at("valid_json").to_number<int64_t>(), constrained.at("stopped").to_number<int64_t>());
  EXPECT_GT(constrained.at("mask_ms").at("mean").to_number<double>(), 0.0);
  EXPECT_GT(doc.at("ratio").to_number<double>(), 0.0);
  EXPECT_GT(doc.at("state_mask_ms").at("string_interior_allowed").to_number<int64_t>(), 100);
  if (have_vocab) {
    const auto& vocab = doc.at("vocab").as_object();
    EXPECT_EQ(vocab.at("n_vocab").to_number<int64_t>(), 50257);
    EXPECT_GT(vocab.at("document_tokens").to_number<int64_t>(), 20);
    EXPECT_GT(doc.at("vocab_ratio").to_number<double>(), 1.0);
  }
}

}  // namespace
}  // namespace tether
