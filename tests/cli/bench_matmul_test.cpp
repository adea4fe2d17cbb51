// Runs `tether bench --workload matmul` (small sizes) and checks its JSON.
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "cli_runner.h"
#include "test_paths.h"

namespace tether {
namespace {

using RunResult = testing::CliResult;


TEST(BenchMatmulTest, PrintsPerShapeFiguresAsJson) {
  const RunResult r = testing::run_tether(
      "bench --workload matmul --type q4_K --threads 2 --tokens 3 --repeats 1 --probe-mb 8 "
      "--working-set-mb 0");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const boost::json::object root = boost::json::parse(r.output).as_object();
  EXPECT_EQ(root.at("workload").as_string(), "matmul");
  EXPECT_EQ(root.at("tokens").as_int64(), 3);
  EXPECT_GT(root.at("bandwidth_gbps").to_number<double>(), 0.0);
  const auto& types = root.at("types").as_array();
  ASSERT_EQ(types.size(), 1u);
  const auto& shapes = types[0].at("shapes").as_array();
  ASSERT_EQ(shapes.size(), 5u);
  for (const auto& shape : shapes) {
    EXPECT_GT(shape.at("gbps").to_number<double>(), 0.0);
    EXPECT_GT(shape.at("gflops").to_number<double>(), 0.0);
  }
  // 896-wide rows cannot hold 256-value blocks: they fall back to q4_0, as
  // make-model does; ffn_down (4864 wide) stays q4_K.
  EXPECT_EQ(shapes[0].at("weight_type").as_string(), "q4_0");
  EXPECT_EQ(shapes[3].at("weight_type").as_string(), "q4_K");
  EXPECT_GT(types[0].at("forward_pass_estimate").at("tokens_per_s").to_number<double>(), 0.0);
}

TEST(BenchMatmulTest, RejectsBadOptions) {
  EXPECT_NE(testing::run_tether("bench --workload matmul --type q5_K --probe-mb 8 --working-set-mb 0").exit_code, 0);
  EXPECT_NE(testing::run_tether("bench --workload matmul --threads 0 --probe-mb 8").exit_code, 0);
  EXPECT_NE(testing::run_tether("bench --workload matmul --path neon --probe-mb 8").exit_code, 0);
  // The tokenize workload still needs a model.
  const RunResult r = testing::run_tether("bench --workload tokenize");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("--model"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace tether
