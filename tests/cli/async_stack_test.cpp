#include "cli/async_stack.h"

#include <filesystem>

#include <gtest/gtest.h>

#include "api/api_service.h"
#include "cli_runner.h"
#include "http/router.h"

namespace tether::cli {
namespace {

TEST(AsyncStackTest, AStoreThatCannotBeOpenedStopsServeWithAClearError) {
  // The parent of the database is a file: no directory can be made there.
  const testing::CliResult result = testing::run_tether("serve --port 0 --store sqlite:/proc/version/jobs.db");
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(result.output.find("cannot open the async job store 'sqlite:/proc/version/jobs.db' (set async.store or "
                               "--store)"),
            std::string::npos)
      << result.output;
  EXPECT_EQ(result.output.find("listening on"), std::string::npos) << result.output;
}

TEST(AsyncStackTest, TenantKeysAreTheServersExtraKeys) {
  AsyncConfig config;
  config.tenants = {{"acme", "sk-acme", "", ""}, {"beta", "sk-beta", "http://127.0.0.1:1/h", "s"}};
  EXPECT_EQ(tenant_api_keys(config), (std::vector<std::string>{"sk-acme", "sk-beta"}));
}

TEST(AsyncStackTest, ATenantIsNamedByItsBearerKey) {
  const std::filesystem::path dir = std::filesystem::temp_directory_path() /
                                    ("tether_async_stack_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()));
  std::filesystem::remove_all(dir);
  AsyncConfig config;
  config.store = "sqlite:" + (dir / "jobs.db").string();
  config.tenants = {{"acme", "sk-acme", "", ""}, {"beta", "sk-beta", "", ""}};
  api::ApiService api({}, nullptr);
  http::Router router;
  {
    AsyncStack stack(config, api, router);
    auto request_with = [](std::string authorization) {
      http::Request request;
      if (!authorization.empty()) request.headers.emplace_back("authorization", std::move(authorization));
      return request;
    };
    EXPECT_EQ(stack.tenant_of(request_with("Bearer sk-acme")), "acme");
    EXPECT_EQ(stack.tenant_of(request_with("bearer  sk-beta ")), "beta");
    EXPECT_EQ(stack.tenant_of(request_with("Bearer sk-main")), "");
    EXPECT_EQ(stack.tenant_of(request_with("")), "");
    EXPECT_FALSE(stack.worker_id().empty());
    // The async routes are registered before any model is loaded.
    EXPECT_EQ(router.match("POST", "/v1/batches").kind, http::Router::Match::Kind::kFound);
    EXPECT_EQ(router.match("GET", "/v1/jobs/job_1").kind, http::Router::Match::Kind::kFound);
  }
  EXPECT_TRUE(std::filesystem::exists(dir / "jobs.db"));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace tether::cli
