// `tether serve` as a process: the listening line, /health, /ready,
// /metrics, the API key, config errors, and SIGTERM draining to exit 0.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "cli_runner.h"
#include "http/test_server.h"
#include "router/fake_upstreams.h"
#include "test_paths.h"

namespace tether::testing {
namespace {

using namespace std::chrono_literals;

// A child `tether serve ...` with its stdout on a pipe.
class ServeProcess {
 public:
  explicit ServeProcess(std::vector<std::string> args) {
    data_dir_ = make_temp_dir("serve_data");
    int pipe_fds[2];
    if (::pipe(pipe_fds) != 0) throw std::runtime_error("pipe failed");
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(pipe_fds[1], STDOUT_FILENO);
      ::close(pipe_fds[0]);
      ::close(pipe_fds[1]);
      ::setenv("TETHER_DATA_DIR", data_dir_.c_str(), 1);
      const std::string binary = tether_binary().string();
      std::vector<char*> argv;
      argv.push_back(const_cast<char*>(binary.c_str()));
      argv.push_back(const_cast<char*>("serve"));
      for (auto& arg : args) argv.push_back(arg.data());
      argv.push_back(nullptr);
      ::execv(binary.c_str(), argv.data());
      ::_exit(127);
    }
    ::close(pipe_fds[1]);
    stdout_fd_ = pipe_fds[0];
  }
  ~ServeProcess() {
    if (pid_ > 0 && !reaped_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (stdout_fd_ >= 0) ::close(stdout_fd_);
  }

  // The port from "listening on http://127.0.0.1:PORT", or 0.
  uint16_t wait_listening(std::chrono::milliseconds timeout) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    std::string text;
    const std::regex pattern(R"(listening on http://127\.0\.0\.1:(\d+)\n)");
    while (std::chrono::steady_clock::now() < end) {
      pollfd p{stdout_fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      char chunk[256];
      const ssize_t n = ::read(stdout_fd_, chunk, sizeof chunk);
      if (n <= 0) return 0;
      text.append(chunk, static_cast<size_t>(n));
      std::smatch match;
      if (std::regex_search(text, match, pattern)) return static_cast<uint16_t>(std::stoi(match[1]));
    }
    return 0;
  }

  void signal(int number) { ::kill(pid_, number); }

  // The exit code, or -1 on a signal or timeout.
  int wait_exit(std::chrono::milliseconds timeout) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        reaped_ = true;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      }
      std::this_thread::sleep_for(10ms);
    }
    return -1;
  }

 private:
  std::filesystem::path data_dir_;
  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  bool reaped_ = false;
};

std::optional<RawResponse> wait_ready(uint16_t port) {
  std::optional<RawResponse> ready;
  for (int attempt = 0; attempt < 300; ++attempt) {
    ready = raw_request(port, get_request("/ready"));
    if (ready && ready->status == 200) break;
    std::this_thread::sleep_for(50ms);
  }
  return ready;
}

TEST(ServeCommandTest, ServesProbesAndDrainsOnSigterm) {
  ServeProcess serve({"--port", "0", "--kv-memory", "16", "--threads", "1"});
  const uint16_t port = serve.wait_listening(60s);
  ASSERT_NE(port, 0);
  auto health = raw_request(port, get_request("/health"));
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(health->body, "{\"status\":\"ok\"}");
  auto ready = wait_ready(port);
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 200);
  EXPECT_EQ(ready->body, "{\"status\":\"ready\",\"model\":\"demo\"}");
  auto metrics = raw_request(port, get_request("/metrics"));
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 200);
  EXPECT_EQ(metrics->header("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(metrics->body.find("tether_model_ready 1\n"), std::string::npos) << metrics->body;
  EXPECT_NE(metrics->body.find("tether_kv_blocks{model=\"demo\",replica=\"local-0\",state=\"total\"} 1024\n"), std::string::npos) << metrics->body;
  EXPECT_NE(metrics->body.find("tether_http_requests_total{route=\"/ready\",method=\"GET\",status=\"200\"}"),
            std::string::npos);

  // A keep-alive connection open at SIGTERM does not hold the drain.
  RawSocket idle(port);
  idle.send(get_request("/health"));
  ASSERT_EQ(idle.read_response()->status, 200);
  serve.signal(SIGTERM);
  EXPECT_EQ(serve.wait_exit(10s), 0);
  EXPECT_TRUE(idle.wait_closed(1s));
}

TEST(ServeCommandTest, ConfigFileSetsTheKeyAndFlagsOverrideIt) {
  const auto dir = make_temp_dir("serve_config_process");
  {
    std::ofstream out(dir / "tether.yaml");
    out << "port: 1\napi_key: from-file\nkv_memory: 16\nthreads: 1\nmodel_name: tiny\n";
  }
  ServeProcess serve({"--config", (dir / "tether.yaml").string(), "--port", "0"});
  const uint16_t port = serve.wait_listening(60s);
  ASSERT_NE(port, 0);
  EXPECT_EQ(wait_ready(port)->body, "{\"status\":\"ready\",\"model\":\"tiny\"}");
  EXPECT_EQ(raw_request(port, get_request("/metrics"))->status, 401);
  EXPECT_EQ(raw_request(port, get_request("/metrics", "Authorization: Bearer from-file\r\n"))->status, 200);
  serve.signal(SIGINT);
  EXPECT_EQ(serve.wait_exit(10s), 0);
}

TEST(ServeCommandTest, BadConfigIsAClearErrorExit1) {
  const auto dir = make_temp_dir("serve_bad_config");
  {
    std::ofstream out(dir / "bad.yaml");
    out << "port: 0\nmax_runing: 4\n";
  }
  CliResult result = run_tether("serve --config " + (dir / "bad.yaml").string());
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.output.find("unknown key 'max_runing'"), std::string::npos) << result.output;
  CliResult missing = run_tether("serve --config " + (dir / "missing.yaml").string());
  EXPECT_EQ(missing.exit_code, 1);
}

// A gateway `tether serve --replicas 0 --upstream URL` in front of another
// `tether serve`: streamed and whole answers pass through, and the router's
// metrics count them; a config with local replicas and a bad upstream URL
// is refused up front.
TEST(ServeCommandTest, RoutesThroughASecondServeProcessAsUpstream) {
  ServeProcess engine({"--port", "0", "--kv-memory", "16", "--threads", "1"});
  const uint16_t engine_port = engine.wait_listening(60s);
  ASSERT_NE(engine_port, 0);
  ASSERT_EQ(wait_ready(engine_port)->status, 200);
  ServeProcess gateway({"--port", "0", "--replicas", "0", "--model-name", "demo", "--upstream",
                        "http://127.0.0.1:" + std::to_string(engine_port)});
  const uint16_t port = gateway.wait_listening(60s);
  ASSERT_NE(port, 0);
  ASSERT_EQ(wait_ready(port)->status, 200);

  const std::string body =
      R"({"model": "demo", "max_tokens": 5, "temperature": 0, "stream": true,
          "stream_options": {"include_usage": true},
          "messages": [{"role": "user", "content": "Hello through the gateway"}]})";
  auto streamed = raw_request(port, post_request("/v1/chat/completions", body, "x-session-affinity: s1\r\n"));
  ASSERT_TRUE(streamed);
  EXPECT_EQ(streamed->status, 200) << streamed->body;
  EXPECT_EQ(streamed->header("content-type"), "text/event-stream");
  EXPECT_EQ(streamed->header("x-session-affinity"), "s1");
  EXPECT_NE(streamed->body.find("\"prompt_tokens_details\""), std::string::npos) << streamed->body;
  EXPECT_NE(streamed->body.find("data: [DONE]"), std::string::npos) << streamed->body;

  auto models = raw_request(port, get_request("/v1/models"));
  ASSERT_TRUE(models);
  EXPECT_NE(models->body.find("\"id\":\"demo\""), std::string::npos) << models->body;
  auto metrics = raw_request(port, get_request("/metrics"));
  ASSERT_TRUE(metrics);
  const std::string upstream_id = "127.0.0.1:" + std::to_string(engine_port);
  EXPECT_NE(metrics->body.find("tether_router_replica_requests_total{model=\"demo\",replica=\"" + upstream_id + "\"} 1"),
            std::string::npos)
      << metrics->body;
  EXPECT_NE(metrics->body.find("tether_router_decisions_total{model=\"demo\",reason=\"affinity_home\"} 1"),
            std::string::npos)
      << metrics->body;
  gateway.signal(SIGTERM);
  EXPECT_EQ(gateway.wait_exit(10s), 0);
  engine.signal(SIGTERM);
  EXPECT_EQ(engine.wait_exit(10s), 0);

  CliResult bad = run_tether("serve --port 0 --upstream https://example.com");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.output.find("https"), std::string::npos) << bad.output;
  CliResult no_replica = run_tether("serve --port 0 --replicas 0");
  EXPECT_EQ(no_replica.exit_code, 1);
  EXPECT_NE(no_replica.output.find("upstream"), std::string::npos) << no_replica.output;
}

bool metric_has(uint16_t port, const std::string& line) {
  auto metrics = raw_request(port, get_request("/metrics"));
  return metrics && metrics->body.find(line) != std::string::npos;
}

// A gateway with a local replica and another `tether serve` as an upstream
// (Workers AI too) that dies mid-run: the session homed on the upstream
// fails over to the local replica at once, and the health checks mark the
// upstream down.
TEST(ServeCommandTest, AnUpstreamThatDiesMidRunFailsOverAndIsMarkedDown) {
  ServeProcess engine({"--port", "0", "--kv-memory", "16", "--threads", "1"});
  const uint16_t engine_port = engine.wait_listening(60s);
  ASSERT_NE(engine_port, 0);
  ASSERT_EQ(wait_ready(engine_port)->status, 200);
  const std::string upstream_id = "127.0.0.1:" + std::to_string(engine_port);
  const auto dir = make_temp_dir("serve_upstream_dies");
  {
    std::ofstream out(dir / "fleet.yaml");
    out << "kv_memory: 16\nthreads: 1\nreplicas: 1\nupstreams:\n"
        << "  - url: http://" << upstream_id << "/v1\n"
        << "    workers_ai: true\n    health_interval_ms: 100\n    connect_timeout_ms: 500\n";
  }
  ServeProcess gateway({"--config", (dir / "fleet.yaml").string(), "--port", "0"});
  const uint16_t port = gateway.wait_listening(60s);
  ASSERT_NE(port, 0);
  ASSERT_EQ(wait_ready(port)->status, 200);
  const std::string key = tether::testing::key_preferring({"local-0", upstream_id}, upstream_id);
  ASSERT_FALSE(key.empty());
  const std::string affinity = "x-session-affinity: " + key + "\r\n";
  const std::string chat = R"({"model": "demo", "max_tokens": 4, "temperature": 0,
                               "messages": [{"role": "user", "content": "Which replica?"}]})";
  auto first = raw_request(port, post_request("/v1/chat/completions", chat, affinity));
  ASSERT_TRUE(first);
  EXPECT_EQ(first->status, 200) << first->body;
  auto workers = raw_request(port, post_request("/ai/run/demo", R"({"prompt": "Hello", "max_tokens": 3})", affinity));
  ASSERT_TRUE(workers);
  EXPECT_EQ(workers->status, 200) << workers->body;
  EXPECT_NE(workers->body.find("\"result\""), std::string::npos) << workers->body;
  EXPECT_TRUE(metric_has(port, "tether_router_replica_requests_total{model=\"demo\",replica=\"" + upstream_id + "\"} 2"));
  EXPECT_TRUE(metric_has(port, "tether_router_replica_healthy{model=\"demo\",replica=\"" + upstream_id + "\"} 1"));

  engine.signal(SIGKILL);
  engine.wait_exit(10s);
  auto after = raw_request(port, post_request("/v1/chat/completions", chat, affinity));
  ASSERT_TRUE(after);
  EXPECT_EQ(after->status, 200) << after->body;
  EXPECT_TRUE(metric_has(port, "tether_router_replica_requests_total{model=\"demo\",replica=\"local-0\"} 1"));
  const std::string down = "tether_router_replica_healthy{model=\"demo\",replica=\"" + upstream_id + "\"} 0";
  bool marked_down = false;
  for (int i = 0; i < 100 && !(marked_down = metric_has(port, down)); ++i) std::this_thread::sleep_for(50ms);
  EXPECT_TRUE(marked_down);
  gateway.signal(SIGTERM);
  EXPECT_EQ(gateway.wait_exit(10s), 0);
}

TEST(ServeCommandTest, LocalReplicasEachReportTheirEngine) {
  ServeProcess serve({"--port", "0", "--kv-memory", "8", "--threads", "1", "--replicas", "2"});
  const uint16_t port = serve.wait_listening(60s);
  ASSERT_NE(port, 0);
  ASSERT_EQ(wait_ready(port)->status, 200);
  auto metrics = raw_request(port, get_request("/metrics"));
  ASSERT_TRUE(metrics);
  for (const char* replica : {"local-0", "local-1"}) {
    EXPECT_NE(metrics->body.find(std::string("tether_engine_requests_running{model=\"demo\",replica=\"") + replica),
              std::string::npos)
        << metrics->body;
    EXPECT_NE(metrics->body.find(std::string("tether_router_replica_healthy{model=\"demo\",replica=\"") + replica +
                                 "\"} 1"),
              std::string::npos)
        << metrics->body;
  }
  serve.signal(SIGTERM);
  EXPECT_EQ(serve.wait_exit(10s), 0);
}

}  // namespace
}  // namespace tether::testing
