#include "cli/bench_fleet.h"

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include "common/error.h"
#include "engine/model/model_maker.h"
#include "engine/model/model_shape.h"
#include "test_paths.h"

namespace tether::cli {
namespace {

// The fleet workload on a tiny model: 2 sessions over 3 replicas, every policy: each run
// answers every turn; affinity keeps sessions home (cached share well above
// round robin's, which scatters each session's turns); the load imbalance
// and per-replica figures are reported.
TEST(BenchFleet, RunsEveryPolicyOverLocalReplicas) {
  const auto dir = tether::testing::make_temp_dir("bench_fleet");
  const auto path = dir / "tiny.gguf";
  model::MakeModelOptions make;
  make.shape = model::model_shape_preset("tiny");
  make.seed = 5;
  model::ModelMaker(make).write_file(path);

  FleetBenchOptions options;
  options.model_path = path.string();
  options.replicas = 3;
  options.agent.sessions = 2;
  options.agent.turns = 4;
  options.agent.system_tokens = 160;
  options.agent.user_tokens = 12;
  options.agent.gen_tokens = 4;
  options.agent.tool_tokens = 10;
  options.agent.distinct_system = true;
  ::testing::internal::CaptureStdout();
  run_fleet_bench(options);
  const std::string out = ::testing::internal::GetCapturedStdout();
  const boost::json::value report = boost::json::parse(out);
  EXPECT_EQ(report.at("workload").as_string(), "fleet");
  const boost::json::array& runs = report.at("runs").as_array();
  ASSERT_EQ(runs.size(), 4u);
  std::map<std::string, double> share;
  for (const auto& run : runs) {
    const std::string policy(run.at("policy").as_string());
    EXPECT_EQ(run.at("requests").as_int64(), 8) << policy;
    EXPECT_EQ(run.at("replicas").as_array().size(), 3u) << policy;
    EXPECT_GE(run.at("load_max_over_mean").as_double(), 1.0) << policy;
    share[policy] = run.at("cached_share").as_double();
  }
  EXPECT_GT(share["affinity"], 0.5);
  EXPECT_GT(share["affinity"], share["round-robin"]);
  EXPECT_GT(report.at("affinity_over_round_robin_cached_share").as_double(), 1.0);
}

TEST(BenchFleet, UnknownPolicyIsAClearError) {
  FleetBenchOptions options;
  options.model_path = "demo";
  options.policies = {"random"};
  EXPECT_THROW(run_fleet_bench(options), Error);
}

}  // namespace
}  // namespace tether::cli
