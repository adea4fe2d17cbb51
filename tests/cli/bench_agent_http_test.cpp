#include "cli/bench_agent_http.h"

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include "../http/test_server.h"
#include "api/api_service.h"
#include "engine/model/model_maker.h"
#include "engine/model/model_shape.h"
#include "test_paths.h"

namespace tether::cli {
namespace {

// The agent workload through HTTP against tether's own API on a tiny model,
// in process: every turn is answered, prompts grow turn by turn, the shared
// system prompt comes back as cached tokens.
TEST(BenchAgentHttp, RunsTheWorkloadThroughTheApi) {
  const auto dir = tether::testing::make_temp_dir("bench_agent_http");
  const auto path = dir / "tiny.gguf";
  model::MakeModelOptions make;
  make.shape = model::model_shape_preset("tiny");
  make.seed = 3;
  model::ModelMaker(make).write_file(path);

  sched::EngineOptions engine;
  engine.threads = 1;
  engine.kv_memory_bytes = size_t{32} << 20;
  auto served = api::load_served_model(path.string(), "tiny", {}, engine);
  api::ApiService service({served}, nullptr);
  tether::testing::TestServer server;
  service.register_routes(server.router());
  server.start();

  AgentHttpBenchOptions options;
  options.url = "http://127.0.0.1:" + std::to_string(server.port());
  options.model_path = path.string();
  options.model_name = "tiny";
  options.label = "tether";
  options.sessions = 2;
  options.turns = 3;
  options.system_tokens = 96;
  options.user_tokens = 12;
  options.gen_tokens = 6;
  options.tool_tokens = 10;
  ::testing::internal::CaptureStdout();
  run_agent_http_bench(options);
  const std::string out = ::testing::internal::GetCapturedStdout();
  const boost::json::value report = boost::json::parse(out);
  EXPECT_EQ(report.at("server").as_string(), "tether");
  EXPECT_EQ(report.at("requests").as_int64(), 6);
  EXPECT_GT(report.at("prompt_tokens").as_int64(), 6 * 96);
  EXPECT_GT(report.at("cached_share").as_double(), 0.3);
  EXPECT_GT(report.at("output_tokens_per_s").as_double(), 0.0);
  EXPECT_GT(report.at("ttft_ms").at("warm").at("p50").as_double(), 0.0);
  server.stop();
}

TEST(BenchAgentHttp, BadUrlIsAClearError) {
  AgentHttpBenchOptions options;
  options.url = "ftp://x";
  options.model_path = "demo";
  EXPECT_THROW(run_agent_http_bench(options), Error);
}

}  // namespace
}  // namespace tether::cli
