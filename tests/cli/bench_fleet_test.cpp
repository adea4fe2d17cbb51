#include "cli/bench_fleet.h"

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include "common/error.h"
#include "engine/model/model_maker.h"
#include "engine/model/model_shape.h"
#include "test_paths.h"

namespace tether::cli {
namespace {

// The fleet workload on a tiny model: 2 sessions over 3 replicas, every
// policy: each run answers every turn on fresh replicas, its decisions are
// those of its policy, and the per-replica figures add up.
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
  std::string failure;
  try {
    run_fleet_bench(options);
  } catch (const std::exception& e) {
    failure = e.what();
  }
  const std::string out = ::testing::internal::GetCapturedStdout();
  ASSERT_EQ(failure, "");
  const boost::json::value report = boost::json::parse(out);
  EXPECT_EQ(report.at("workload").as_string(), "fleet");
  const boost::json::array& runs = report.at("runs").as_array();
  ASSERT_EQ(runs.size(), 4u);
  const std::map<std::string, std::vector<std::string>> reasons = {
      {"affinity", {"affinity_home", "affinity_spill"}},
      {"prefix", {"prefix", "load"}},
      {"least-loaded", {"load"}},
      {"round-robin", {"round_robin"}}};
  for (const auto& run : runs) {
    const std::string policy(run.at("policy").as_string());
    int64_t decided = 0;
    for (const std::string& reason : reasons.at(policy)) decided += run.at("decisions").at(reason).as_int64();
    EXPECT_EQ(decided, 8) << policy;
    EXPECT_EQ(run.at("decisions").at("retry").as_int64(), 0) << policy;
    int64_t requests = 0;
    for (const auto& replica : run.at("replicas").as_array()) {
      requests += replica.at("requests").as_int64();
      if (policy == "round-robin") {
        EXPECT_NEAR(static_cast<double>(replica.at("requests").as_int64()), 8.0 / 3, 1.0);
      }
    }
    EXPECT_EQ(requests, 8) << policy;
  }
}

TEST(BenchFleet, UnknownPolicyIsAClearError) {
  FleetBenchOptions options;
  options.model_path = "demo";
  options.policies = {"random"};
  EXPECT_THROW(run_fleet_bench(options), Error);
}

}  // namespace
}  // namespace tether::cli
