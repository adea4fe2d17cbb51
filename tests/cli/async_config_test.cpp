#include "cli/async_config.h"

#include <gtest/gtest.h>

#include "cli/serve_config.h"
#include "common/error.h"

namespace tether::cli {
namespace {

TEST(AsyncConfigTest, ParsesEveryKey) {
  ServeConfig config;
  apply_serve_config_yaml(R"(
async:
  store: postgres://tether@localhost/jobs
  worker_id: gw-1
  max_interactive: 2
  max_kv_use: 0.5
  max_in_flight: 6
  yield_to_prefill: false
  lease_ms: 5000
  poll_interval_ms: 50
  max_attempts: 4
  completion_window: 90m
  prefill_chunk: 32
  webhooks:
    allow: [http://127.0.0.1:9000/hooks, https://hooks.example.com/]
    secret: whsec-1
    max_attempts: 5
    initial_backoff_ms: 10
    max_backoff_ms: 100
    timeout_ms: 2000
  tenants:
    - name: acme
      api_key: sk-acme
      webhook_url: http://127.0.0.1:9000/hooks/acme
      webhook_secret: whsec-acme
    - name: beta
      api_key: sk-beta
)",
                          "async.yaml", config);
  const AsyncConfig& a = config.async;
  EXPECT_EQ(a.store, "postgres://tether@localhost/jobs");
  EXPECT_EQ(a.worker_id, "gw-1");
  EXPECT_EQ(a.max_interactive, 2);
  EXPECT_DOUBLE_EQ(a.max_kv_use, 0.5);
  EXPECT_EQ(a.max_in_flight, 6);
  EXPECT_FALSE(a.yield_to_prefill);
  EXPECT_FALSE(config.engine_options().async_yields_to_prefill);
  EXPECT_EQ(a.lease_ms, 5000);
  EXPECT_EQ(a.poll_interval_ms, 50);
  EXPECT_EQ(a.max_attempts, 4);
  EXPECT_EQ(a.completion_window_ms, 90 * 60 * 1000);
  EXPECT_EQ(a.prefill_chunk, 32);
  EXPECT_EQ(config.engine_options().async_prefill_chunk, 32);
  ASSERT_EQ(a.webhook_allow.size(), 2u);
  EXPECT_EQ(a.webhook_allow[1], "https://hooks.example.com/");
  EXPECT_EQ(a.webhook_secret, "whsec-1");
  EXPECT_EQ(a.webhook_max_attempts, 5);
  EXPECT_EQ(a.webhook_initial_backoff_ms, 10);
  EXPECT_EQ(a.webhook_max_backoff_ms, 100);
  EXPECT_EQ(a.webhook_timeout_ms, 2000);
  ASSERT_EQ(a.tenants.size(), 2u);
  EXPECT_EQ(a.tenants[0].name, "acme");
  EXPECT_EQ(a.tenants[0].api_key, "sk-acme");
  EXPECT_EQ(a.tenants[0].webhook_url, "http://127.0.0.1:9000/hooks/acme");
  EXPECT_EQ(a.tenants[0].webhook_secret, "whsec-acme");
  EXPECT_EQ(a.tenants[1].webhook_url, "");
  config.validate();
}

TEST(AsyncConfigTest, DefaultsAreSQLiteInTheWorkingDirectory) {
  ServeConfig config;
  apply_serve_config_yaml("", "empty.yaml", config);
  EXPECT_EQ(config.async.store, "sqlite:tether-jobs.db");
  EXPECT_EQ(config.async.completion_window_ms, 24 * 3600 * 1000);
  EXPECT_TRUE(config.async.webhook_allow.empty());
  EXPECT_TRUE(config.async.yield_to_prefill);
  EXPECT_TRUE(config.engine_options().async_yields_to_prefill);
}

TEST(AsyncConfigTest, MistakesAreClearErrors) {
  auto error_of = [](const std::string& yaml) {
    ServeConfig config;
    try {
      apply_serve_config_yaml(yaml, "bad.yaml", config);
      config.validate();
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(error_of("async:\n  stor: x\n").find("unknown key 'async.stor'"), std::string::npos);
  EXPECT_NE(error_of("async:\n  webhooks:\n    alow: []\n").find("unknown key 'async.webhooks.alow'"),
            std::string::npos);
  EXPECT_NE(error_of("async:\n  max_kv_use: 2\n").find("'max_kv_use' must be in"), std::string::npos);
  EXPECT_NE(error_of("async:\n  completion_window: 3 days\n").find("line 2: 'completion_window'"),
            std::string::npos);
  EXPECT_NE(error_of("async:\n  tenants:\n    - name: a\n").find("needs a name and an api_key"), std::string::npos);
  EXPECT_NE(error_of("async:\n  tenants:\n    - {name: a, api_key: k}\n    - {name: b, api_key: k}\n")
                .find("repeats a name or api_key"),
            std::string::npos);
  EXPECT_NE(error_of("async:\n  webhooks:\n    initial_backoff_ms: 10\n    max_backoff_ms: 5\n")
                .find("must not exceed"),
            std::string::npos);
  EXPECT_NE(error_of("async: [1]\n").find("'async' must be a mapping"), std::string::npos);
}

}  // namespace
}  // namespace tether::cli
