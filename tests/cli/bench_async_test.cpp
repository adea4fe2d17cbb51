// `tether bench --workload async` as a process: it starts a real `tether
// serve` child, runs the four phases with tiny numbers, and reports every
// field with every job completed.

#include <string>

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include "cli_runner.h"
#include "store/pg_test_server.h"

namespace tether::testing {
namespace {

const std::string kTinyRun =
    "bench --workload async -t 1 --kv-memory 16 --clients 1 --requests 3 --prompt-tokens 48 --max-tokens 4 ";

boost::json::object run_json(const std::string& args) {
  const CliResult result = run_tether(kTinyRun + args + " --json", "2>/dev/null");
  EXPECT_EQ(result.exit_code, 0) << result.output;
  boost::system::error_code ec;
  boost::json::value report = boost::json::parse(result.output, ec);
  if (ec || !report.is_object()) {
    ADD_FAILURE() << "no JSON report: " << result.output;
    return {};
  }
  return report.as_object();
}

// The interactive phases' figures: every request answered, TTFT within latency.
void expect_interactive(const boost::json::object& report, const char* phase) {
  const boost::json::object& run = report.at(phase).as_object();
  EXPECT_EQ(run.at("requests").as_int64(), 3) << phase;
  EXPECT_GT(run.at("ttft_ms_p50").as_double(), 0) << phase;
  EXPECT_GE(run.at("ttft_ms_p95").as_double(), run.at("ttft_ms_p50").as_double()) << phase;
  EXPECT_GE(run.at("latency_ms_p95").as_double(), run.at("ttft_ms_p95").as_double()) << phase;
}

TEST(BenchAsync, SingleJobsOnSqliteAllComplete) {
  const boost::json::object report = run_json("--jobs 10");
  if (report.empty()) return;
  EXPECT_EQ(report.at("workload").as_string(), "async");
  EXPECT_EQ(report.at("store").as_string(), "sqlite");
  EXPECT_EQ(report.at("mode").as_string(), "single");
  EXPECT_TRUE(report.at("yield_to_prefill").as_bool());
  expect_interactive(report, "baseline");
  expect_interactive(report, "backlog");
  expect_interactive(report, "after_drain");
  EXPECT_GE(report.at("backlog").at("jobs_left_at_end").as_int64(), 0);
  EXPECT_GT(report.at("ttft_p95_ratio").as_double(), 0);
  EXPECT_EQ(report.at("ttft_p95_ratio_target").as_double(), 1.2);
  const boost::json::object& submit = report.at("submit").as_object();
  EXPECT_EQ(submit.at("jobs").as_int64(), 10);
  EXPECT_GT(submit.at("jobs_per_s").as_double(), 0);
  const boost::json::object& complete = report.at("complete").as_object();
  EXPECT_EQ(complete.at("jobs_succeeded").as_int64(), 10);
  EXPECT_EQ(complete.at("jobs_failed").as_int64(), 0);
  EXPECT_EQ(complete.at("requests_succeeded").as_int64(), 10);
  EXPECT_GT(complete.at("jobs_per_s").as_double(), 0);
  EXPECT_GE(complete.at("seconds").as_double(), submit.at("seconds").as_double());
  EXPECT_EQ(report.at("server_exit_code").as_int64(), 0);
}

TEST(BenchAsync, WorkersAiBatchesCountTheirRequests) {
  const boost::json::object report = run_json("--jobs 7 --batch-size 3");
  if (report.empty()) return;
  EXPECT_EQ(report.at("mode").as_string(), "batch");
  EXPECT_EQ(report.at("submit").at("jobs").as_int64(), 3);
  EXPECT_EQ(report.at("submit").at("requests").as_int64(), 7);
  EXPECT_EQ(report.at("complete").at("jobs_succeeded").as_int64(), 3);
  EXPECT_EQ(report.at("complete").at("requests_succeeded").as_int64(), 7);
  EXPECT_EQ(report.at("complete").at("requests_failed").as_int64(), 0);
}

TEST(BenchAsync, BothYieldSettingsRunSideBySide) {
  const CliResult result = run_tether(kTinyRun + "--jobs 3 --async-yield both --json", "2>/dev/null");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const size_t newline = result.output.find('\n');
  ASSERT_NE(newline, std::string::npos) << result.output;
  const boost::json::value off = boost::json::parse(result.output.substr(0, newline));
  const boost::json::value on = boost::json::parse(result.output.substr(newline + 1));
  EXPECT_FALSE(off.at("yield_to_prefill").as_bool());
  EXPECT_TRUE(on.at("yield_to_prefill").as_bool());
  EXPECT_EQ(off.at("complete").at("jobs_succeeded").as_int64(), 3);
  EXPECT_EQ(on.at("complete").at("jobs_succeeded").as_int64(), 3);
}

TEST(BenchAsync, PrintsATableWithoutJson) {
  const CliResult result = run_tether(kTinyRun + "--jobs 4", "2>&1");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  for (const char* expected : {"a) no backlog", "c) backlog draining", "e) drained again", "TTFT p95 backlog / baseline",
                               "b) submitted: 4 job(s)", "jobs succeeded 4, failed 0"}) {
    EXPECT_NE(result.output.find(expected), std::string::npos) << expected << " in\n" << result.output;
  }
}

TEST(BenchAsync, RunsOnPostgres) {
  PgTestServer* server = PgTestServer::shared();
  if (server == nullptr) GTEST_SKIP() << PgTestServer::unavailable_reason();
  const boost::json::object report = run_json("--jobs 6 --store '" + server->create_database() + "'");
  if (report.empty()) return;
  EXPECT_EQ(report.at("store").as_string(), "postgres");
  EXPECT_EQ(report.at("complete").at("jobs_succeeded").as_int64(), 6);
  EXPECT_EQ(report.at("complete").at("jobs_failed").as_int64(), 0);
}

TEST(BenchAsync, BadOptionsAreClearErrors) {
  const CliResult no_jobs = run_tether(kTinyRun + "--jobs 0", "2>&1");
  EXPECT_NE(no_jobs.exit_code, 0);
  EXPECT_NE(no_jobs.output.find("--jobs must be in [1,"), std::string::npos) << no_jobs.output;
  const CliResult bad_store = run_tether(kTinyRun + "--jobs 2 --store nosuch://x", "2>&1");
  EXPECT_NE(bad_store.exit_code, 0);
  EXPECT_NE(bad_store.output.find("server"), std::string::npos) << bad_store.output;
}

}  // namespace
}  // namespace tether::testing
