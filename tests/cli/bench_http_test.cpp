#include <cstdlib>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "cli_runner.h"
#include "test_paths.h"

namespace tether::testing {
namespace {

TEST(BenchHttpTest, ReportsPlainStreamsAndGeneration) {
  // The demo model is made in a fresh data dir (the child inherits it).
  const auto data_dir = make_temp_dir("bench_http_data");
  ::setenv("TETHER_DATA_DIR", data_dir.c_str(), 1);
  CliResult result = run_tether("bench --workload http --requests 300 --connections 4 --streams 32 "
                                "--generate-requests 2 -t 1",
                                "2>/dev/null", "");
  ::unsetenv("TETHER_DATA_DIR");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  boost::json::value report = boost::json::parse(result.output);
  EXPECT_EQ(report.at("workload"), "http");
  EXPECT_EQ(report.at("plain").at("requests"), 300);
  EXPECT_GT(report.at("plain").at("requests_per_s").to_number<double>(), 0);
  const auto& streams = report.at("streams");
  EXPECT_EQ(streams.at("open_at_once"), 32);
  EXPECT_EQ(streams.at("completed"), 32);
  EXPECT_EQ(streams.at("events"), 32 * 20);
  // One io thread serves them all: far fewer threads than streams.
  EXPECT_LT(streams.at("process_threads_while_open").to_number<int64_t>(), 16);
  EXPECT_EQ(report.at("generate").at("requests"), 2);
  EXPECT_GE(report.at("generate").at("http_added_ms_p50").to_number<double>(), 0);
}

}  // namespace
}  // namespace tether::testing
