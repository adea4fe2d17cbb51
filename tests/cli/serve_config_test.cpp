#include "cli/serve_config.h"

#include <fstream>

#include <gtest/gtest.h>

#include "common/error.h"
#include "test_paths.h"

namespace tether::cli {
namespace {

TEST(ServeConfigTest, ParsesEveryKey) {
  ServeConfig config;
  apply_serve_config_yaml(R"(
model: /models/qwen.gguf
model_name: qwen
aliases:
  "@cf/moonshotai/kimi-k2.5": qwen
  gpt-4o: qwen
host: 0.0.0.0
port: 9000
api_key: sk-test
threads: 4
kv_memory: 512
max_running: 16
max_queued: 64
prefix_cache_dir: /tmp/kv
prefix_cache_max_mb: 100
io_threads: 2
max_connections: 100
max_header_bytes: 8192
max_body_bytes: 1000000
header_timeout_ms: 1000
body_timeout_ms: 2000
idle_timeout_ms: 3000
write_timeout_ms: 4000
drain_timeout_ms: 5000
access_log: false
)",
                          "test.yaml", config);
  EXPECT_EQ(config.model, "/models/qwen.gguf");
  EXPECT_EQ(config.served_model_name(), "qwen");
  ASSERT_EQ(config.aliases.size(), 2u);
  EXPECT_EQ(config.aliases[0].alias, "@cf/moonshotai/kimi-k2.5");
  EXPECT_EQ(config.aliases[0].model, "qwen");
  EXPECT_EQ(config.server.host, "0.0.0.0");
  EXPECT_EQ(config.server.port, 9000);
  EXPECT_EQ(config.server.api_key, "sk-test");
  EXPECT_EQ(config.threads, 4);
  EXPECT_EQ(config.kv_memory_mb, 512);
  EXPECT_EQ(config.max_running, 16);
  EXPECT_EQ(config.max_queued, 64);
  EXPECT_EQ(config.prefix_cache_dir, "/tmp/kv");
  EXPECT_EQ(config.server.io_threads, 2);
  EXPECT_EQ(config.server.max_connections, 100u);
  EXPECT_EQ(config.server.max_header_bytes, 8192u);
  EXPECT_EQ(config.server.max_body_bytes, 1000000u);
  EXPECT_EQ(config.server.header_timeout.count(), 1000);
  EXPECT_EQ(config.server.body_timeout.count(), 2000);
  EXPECT_EQ(config.server.idle_timeout.count(), 3000);
  EXPECT_EQ(config.server.write_timeout.count(), 4000);
  EXPECT_EQ(config.drain_timeout_ms, 5000);
  EXPECT_FALSE(config.server.access_log);
  const sched::EngineOptions engine = config.engine_options();
  EXPECT_EQ(engine.kv_memory_bytes, size_t{512} << 20);
  EXPECT_EQ(engine.persistent_cache_dir, "/tmp/kv");
  EXPECT_EQ(engine.persistent_cache_max_bytes, uint64_t{100} << 20);
  EXPECT_NO_THROW(config.validate());
}

TEST(ServeConfigTest, DefaultsAndDerivedModelName) {
  ServeConfig config;
  apply_serve_config_yaml("", "empty.yaml", config);
  EXPECT_EQ(config.model, "demo");
  EXPECT_EQ(config.served_model_name(), "demo");
  EXPECT_EQ(config.server.host, "127.0.0.1");
  EXPECT_EQ(config.server.port, 8080);
  config.model = "/x/y/Qwen2.5-0.5B-Q8_0.gguf";
  EXPECT_EQ(config.served_model_name(), "Qwen2.5-0.5B-Q8_0");
}

std::string error_of(const std::string& yaml) {
  ServeConfig config;
  try {
    apply_serve_config_yaml(yaml, "bad.yaml", config);
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    return e.what();
  }
  return "(no error)";
}

TEST(ServeConfigTest, UnknownKeysAndBadTypesAreClearErrors) {
  EXPECT_EQ(error_of("port: 80\nmodle: x\n"), "bad.yaml: line 2: unknown key 'modle'");
  EXPECT_EQ(error_of("port: eighty\n"), "bad.yaml: line 1: 'port' must be an integer, got 'eighty'");
  EXPECT_EQ(error_of("port: 70000\n"), "bad.yaml: line 1: 'port' must be in [0, 65535], got 70000");
  EXPECT_EQ(error_of("threads: 2.5\n"), "bad.yaml: line 1: 'threads' must be an integer, got '2.5'");
  EXPECT_EQ(error_of("host: [a, b]\n"), "bad.yaml: line 1: 'host' must be a scalar value");
  EXPECT_EQ(error_of("aliases: [a]\n"), "bad.yaml: line 1: 'aliases' must map alias names to served model names");
  EXPECT_EQ(error_of("access_log: maybe\n"), "bad.yaml: line 1: 'access_log' must be true or false, got 'maybe'");
  EXPECT_EQ(error_of("- a\n- b\n"), "bad.yaml: the top level must be a mapping of keys");
  EXPECT_NE(error_of("port: [1\n").find("bad.yaml: invalid YAML"), std::string::npos);
  EXPECT_EQ(error_of("max_running: 0\n"), "bad.yaml: line 1: 'max_running' must be in [1, 4096], got 0");
}

TEST(ServeConfigTest, ReadsAFileAndReportsAMissingOne) {
  const auto dir = testing::make_temp_dir("serve_config");
  {
    std::ofstream out(dir / "tether.yaml");
    out << "port: 1234\n";
  }
  ServeConfig config;
  apply_serve_config_file(dir / "tether.yaml", config);
  EXPECT_EQ(config.server.port, 1234);
  try {
    apply_serve_config_file(dir / "missing.yaml", config);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound);
  }
}

}  // namespace
}  // namespace tether::cli

namespace tether::cli {
namespace {

ServeConfig parsed(const std::string& yaml) {
  ServeConfig config;
  apply_serve_config_yaml(yaml, "fleet.yaml", config);
  return config;
}

std::string fleet_error(const std::string& yaml) {
  try {
    ServeConfig config = parsed(yaml);
    config.validate();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(ServeConfigTest, ReplicasUpstreamsAndRouting) {
  const ServeConfig config = parsed(
      "model_name: tiny\n"
      "replicas: 3\n"
      "upstreams:\n"
      "  - http://10.0.0.5:8080\n"
      "  - url: http://10.0.0.6:9000/base\n"
      "    id: gpu-b\n"
      "    models: [tiny, big]\n"
      "    model: served-big\n"
      "    api_key: sk-up\n"
      "    workers_ai: true\n"
      "    connect_timeout_ms: 100\n"
      "    response_timeout_ms: 200\n"
      "    idle_timeout_ms: 300\n"
      "    max_idle_connections: 4\n"
      "    health_path: /v1/models\n"
      "    health_interval_ms: 700\n"
      "routing:\n"
      "  policy: least-loaded\n"
      "  model_policies: {big: prefix}\n"
      "  load_bound: 1.5\n"
      "  prefix_load_weight: 2.5\n"
      "  affinity_from: [prompt_cache_key, user]\n"
      "  prefix_index_chunks: 1000\n"
      "  prefix_ttl_ms: 5000\n"
      "  eject_after_failures: 5\n");
  config.validate();
  EXPECT_EQ(config.replicas, 3);
  ASSERT_EQ(config.upstreams.size(), 2u);
  EXPECT_EQ(config.upstreams[0].url, "http://10.0.0.5:8080");
  const router::UpstreamOptions b = config.upstreams[1].options();
  EXPECT_EQ(b.id, "gpu-b");
  EXPECT_EQ(b.url, "http://10.0.0.6:9000/base");
  EXPECT_EQ(b.model, "served-big");
  EXPECT_EQ(b.api_key, "sk-up");
  EXPECT_TRUE(b.workers_ai);
  EXPECT_EQ(b.connect_timeout.count(), 100);
  EXPECT_EQ(b.response_timeout.count(), 200);
  EXPECT_EQ(b.idle_timeout.count(), 300);
  EXPECT_EQ(b.max_idle_connections, 4u);
  EXPECT_EQ(b.health_path, "/v1/models");
  EXPECT_EQ(b.health_interval.count(), 700);
  // Upstream 0 names no model, so it serves the local one; "big" exists upstream only.
  EXPECT_EQ(config.upstreams_for("tiny"), (std::vector<size_t>{0, 1}));
  EXPECT_EQ(config.upstreams_for("big"), (std::vector<size_t>{1}));
  EXPECT_EQ(config.upstream_only_models(), (std::vector<std::string>{"big"}));
  const router::RouterOptions tiny = config.routing.router_options("tiny");
  EXPECT_EQ(tiny.policy, router::RoutingPolicy::kLeastLoaded);
  EXPECT_EQ(config.routing.router_options("big").policy, router::RoutingPolicy::kPrefix);
  EXPECT_DOUBLE_EQ(tiny.load_bound, 1.5);
  EXPECT_DOUBLE_EQ(tiny.prefix_load_weight, 2.5);
  EXPECT_EQ(tiny.prefix_index_capacity, 1000u);
  EXPECT_EQ(tiny.prefix_ttl.count(), 5000);
  EXPECT_EQ(tiny.eject_after_failures, 5);
  const router::AffinitySources sources = config.routing.affinity_sources();
  EXPECT_TRUE(sources.prompt_cache_key);
  EXPECT_TRUE(sources.user);
}

TEST(ServeConfigTest, GatewayOnlyServesTheModelNameThroughUpstreams) {
  const ServeConfig config = parsed("model_name: remote\nreplicas: 0\nupstreams: [http://127.0.0.1:9]\n");
  config.validate();
  EXPECT_EQ(config.upstream_only_models(), (std::vector<std::string>{"remote"}));
  EXPECT_EQ(config.routing.router_options("remote").policy, router::RoutingPolicy::kAffinity);
}

TEST(ServeConfigTest, FleetMistakesAreClearErrors) {
  EXPECT_EQ(fleet_error("replicas: 0\n"), "replicas 0 needs at least one upstream to route to");
  EXPECT_EQ(fleet_error("replicas: 65\n"), "fleet.yaml: line 1: 'replicas' must be in [0, 64], got 65");
  EXPECT_EQ(fleet_error("routing: {policy: random}\n"),
            "unknown routing policy 'random' (known: affinity, prefix, least-loaded, round-robin)");
  EXPECT_EQ(fleet_error("routing: {affinity_from: [cookie]}\n"),
            "routing.affinity_from: unknown field 'cookie' (known: prompt_cache_key, user)");
  EXPECT_EQ(fleet_error("routing: {load_bound: 0.5}\n"), "fleet.yaml: line 1: 'load_bound' must be in [1, 1000], got 0.5");
  EXPECT_EQ(fleet_error("routing: {lod_bound: 2}\n"), "fleet.yaml: line 1: unknown key 'routing.lod_bound'");
  EXPECT_EQ(fleet_error("upstreams: [{url: http://a:1, timeout: 3}]\n"),
            "fleet.yaml: line 1: unknown key 'upstreams.timeout'");
  EXPECT_EQ(fleet_error("upstreams: {url: x}\n"), "fleet.yaml: line 1: 'upstreams' must be a list");
  EXPECT_EQ(fleet_error("upstreams: [{id: a}]\n"), "every upstream needs a url");
  EXPECT_NE(fleet_error("upstreams: [https://secure:443]\n"), "");
}

}  // namespace
}  // namespace tether::cli
