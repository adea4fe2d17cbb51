// `tether jobs list|show|cancel` as a process, on a SQLite store this test
// fills through the store's interface.

#include <filesystem>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include "cli_runner.h"
#include "store/job_store.h"
#include "test_paths.h"

namespace tether::testing {
namespace {

namespace json = boost::json;

class JobsCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = make_temp_dir("jobs_command");
    url_ = "sqlite:" + (dir_ / "jobs.db").string();
    store_ = store::open_job_store(url_);
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::string submit(const std::string& kind, int items, std::vector<std::string> webhooks = {}) {
    store::NewJob job;
    job.kind = kind;
    job.model = "tiny";
    job.endpoint = kind == "workers_ai" ? "/ai/run" : "/v1/chat/completions";
    job.webhook_urls = std::move(webhooks);
    for (int i = 0; i < items; ++i) {
      job.items.push_back(store::NewItem{"\"req-" + std::to_string(i) + "\"", R"({"model": "tiny"})"});
    }
    return store_->submit(job).job.id;
  }
  CliResult jobs(const std::string& args) { return run_tether("jobs " + args + " --store '" + url_ + "'"); }

  std::filesystem::path dir_;
  std::string url_;
  std::unique_ptr<store::JobStore> store_;
};

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

TEST_F(JobsCommandTest, ListPrintsAnAlignedTableNewestFirst) {
  const std::string batch = submit("batch", 3);
  const std::string single = submit("single", 1);
  ASSERT_EQ(store_->claim("worker", {}, 1, 60'000).size(), 1u);  // the batch runs

  CliResult result = jobs("list");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const std::vector<std::string> lines = lines_of(result.output);
  ASSERT_EQ(lines.size(), 3u) << result.output;
  EXPECT_EQ(lines[0].rfind("ID", 0), 0u);
  const size_t status_column = lines[0].find("STATUS");
  const size_t items_column = lines[0].find("ITEMS");
  ASSERT_NE(status_column, std::string::npos);
  EXPECT_EQ(lines[1].rfind(single, 0), 0u);
  EXPECT_EQ(lines[2].rfind(batch, 0), 0u);
  EXPECT_EQ(lines[1].substr(status_column, 6), "queued");
  EXPECT_EQ(lines[2].substr(status_column, 7), "running");
  EXPECT_EQ(lines[2].substr(items_column, 1), "3");

  result = jobs("list --status running --json");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const json::array listed = json::parse(result.output).as_array();
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].at("id"), json::value(batch));
  EXPECT_EQ(listed[0].at("counts").at("running"), 1);

  result = jobs("list --limit 1 --json");
  EXPECT_EQ(json::parse(result.output).as_array().size(), 1u);
  EXPECT_NE(jobs("list --status bogus").exit_code, 0);
}

TEST_F(JobsCommandTest, ShowPrintsItemsAndDeliveries) {
  const std::string id = submit("batch", 2, {"http://hooks.test/x"});
  std::vector<store::Claim> claims = store_->claim("worker", {}, 2, 60'000);
  ASSERT_EQ(claims.size(), 2u);
  store::ItemOutcome failed;
  failed.status = store::ItemStatus::kFailed;
  failed.http_status = 400;
  failed.error = "bad temperature";
  ASSERT_TRUE(store_->complete("worker", id, 1, failed));

  CliResult result = jobs("show " + id);
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("job:"), std::string::npos);
  EXPECT_NE(result.output.find(id), std::string::npos);
  EXPECT_NE(result.output.find("2 total: 0 queued, 1 running, 0 succeeded, 1 failed"), std::string::npos)
      << result.output;
  EXPECT_NE(result.output.find("http://hooks.test/x"), std::string::npos);
  EXPECT_NE(result.output.find("bad temperature"), std::string::npos);
  bool found_item = false;
  for (const std::string& line : lines_of(result.output)) {
    if (line.rfind("1 ", 0) == 0 && line.find("failed") != std::string::npos && line.find("400") != std::string::npos) {
      found_item = true;
    }
  }
  EXPECT_TRUE(found_item) << result.output;
  EXPECT_NE(result.output.find("EVENT"), std::string::npos);

  result = jobs("show " + id + " --json");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const json::object shown = json::parse(result.output).as_object();
  EXPECT_EQ(shown.at("job").at("id"), json::value(id));
  ASSERT_EQ(shown.at("items").as_array().size(), 2u);
  EXPECT_EQ(shown.at("items").at(1).at("status"), "failed");
  EXPECT_EQ(shown.at("items").at(1).at("attempts"), 1);
  EXPECT_EQ(shown.at("items").at(1).at("error"), "bad temperature");
  ASSERT_GE(shown.at("deliveries").as_array().size(), 1u);
  EXPECT_EQ(shown.at("deliveries").at(0).at("event_type"), "queued");
  EXPECT_EQ(shown.at("deliveries").at(0).at("url"), "http://hooks.test/x");
}

TEST_F(JobsCommandTest, CancelEndsAQueuedJob) {
  const std::string id = submit("workers_ai", 2);
  CliResult result = jobs("cancel " + id);
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("cancelled"), std::string::npos) << result.output;
  EXPECT_EQ(store_->get_job(id)->status, store::JobStatus::kCancelled);
  result = jobs("cancel " + id);
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_NE(result.output.find("already ended"), std::string::npos) << result.output;
}

TEST_F(JobsCommandTest, UnknownIdsAndMissingStoresExitWith2) {
  CliResult result = jobs("show job_000000000000000000000000");
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.output.find("no job 'job_000000000000000000000000'"), std::string::npos) << result.output;
  EXPECT_EQ(jobs("cancel job_000000000000000000000000").exit_code, 2);

  result = run_tether("jobs list --store sqlite:" + (dir_ / "missing.db").string());
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.output.find("no job store"), std::string::npos) << result.output;
  EXPECT_FALSE(std::filesystem::exists(dir_ / "missing.db"));

  // A directory where the database should be cannot be opened.
  std::filesystem::create_directory(dir_ / "a_dir");
  result = run_tether("jobs list --store sqlite:" + (dir_ / "a_dir").string());
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_NE(result.output.find("cannot open the job store"), std::string::npos) << result.output;
  EXPECT_NE(run_tether("jobs").exit_code, 0);  // a subcommand is required
}

}  // namespace
}  // namespace tether::testing
