#include "metrics/registry.h"

#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "common/error.h"

namespace tether::metrics {
namespace {

TEST(RegistryTest, ExposesCountersGaugesAndHistogramsInTextFormat) {
  Registry registry;
  auto& requests = registry.counter("tether_http_requests_total", "Requests", {"route", "status"});
  requests.labels({"/v1/chat/completions", "200"}).inc();
  requests.labels({"/v1/chat/completions", "200"}).inc(2);
  requests.labels({"/v1/models", "404"}).inc();
  registry.gauge("tether_engine_requests_running", "Running").get().set(3);
  auto& ttft = registry.histogram("gen_ai_server_time_to_first_token_seconds", "TTFT", {"model"}, {0.1, 0.5, 1});
  ttft.labels({"demo"}).observe(0.05);
  ttft.labels({"demo"}).observe(0.5);  // le is inclusive
  ttft.labels({"demo"}).observe(7);
  const std::string text = registry.expose();
  const std::string expected =
      "# HELP gen_ai_server_time_to_first_token_seconds TTFT\n"
      "# TYPE gen_ai_server_time_to_first_token_seconds histogram\n"
      "gen_ai_server_time_to_first_token_seconds_bucket{model=\"demo\",le=\"0.1\"} 1\n"
      "gen_ai_server_time_to_first_token_seconds_bucket{model=\"demo\",le=\"0.5\"} 2\n"
      "gen_ai_server_time_to_first_token_seconds_bucket{model=\"demo\",le=\"1\"} 2\n"
      "gen_ai_server_time_to_first_token_seconds_bucket{model=\"demo\",le=\"+Inf\"} 3\n"
      "gen_ai_server_time_to_first_token_seconds_sum{model=\"demo\"} 7.55\n"
      "gen_ai_server_time_to_first_token_seconds_count{model=\"demo\"} 3\n"
      "# HELP tether_engine_requests_running Running\n"
      "# TYPE tether_engine_requests_running gauge\n"
      "tether_engine_requests_running 3\n"
      "# HELP tether_http_requests_total Requests\n"
      "# TYPE tether_http_requests_total counter\n"
      "tether_http_requests_total{route=\"/v1/chat/completions\",status=\"200\"} 3\n"
      "tether_http_requests_total{route=\"/v1/models\",status=\"404\"} 1\n";
  EXPECT_EQ(text, expected);
}

TEST(RegistryTest, EscapesLabelValuesAndHelp) {
  Registry registry;
  registry.counter("c_total", "line one\nback\\slash", {"path"}).labels({"a\"b\\c\nd"}).inc();
  const std::string text = registry.expose();
  EXPECT_NE(text.find("# HELP c_total line one\\nback\\\\slash\n"), std::string::npos) << text;
  EXPECT_NE(text.find("c_total{path=\"a\\\"b\\\\c\\nd\"} 1\n"), std::string::npos) << text;
  EXPECT_EQ(format_sample_value(0.25), "0.25");
  EXPECT_EQ(format_sample_value(1e20), "1e+20");
  EXPECT_EQ(format_sample_value(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(format_sample_value(std::nan("")), "NaN");
}

TEST(RegistryTest, CallbackMetricsAreReadAtScrapeTime) {
  Registry registry;
  double running = 1;
  registry.callback_gauge("engine_running", "Running", [&] { return running; });
  registry.callback("engine_finished_total", "Finished", "counter", {"status"}, [] {
    return std::vector<Registry::Sample>{{{"completed"}, 5}, {{"failed"}, 1}};
  });
  EXPECT_NE(registry.expose().find("engine_running 1\n"), std::string::npos);
  running = 4;
  const std::string text = registry.expose();
  EXPECT_NE(text.find("engine_running 4\n"), std::string::npos);
  EXPECT_NE(text.find("# TYPE engine_finished_total counter\nengine_finished_total{status=\"completed\"} 5\n"
                      "engine_finished_total{status=\"failed\"} 1\n"),
            std::string::npos)
      << text;
}

TEST(RegistryTest, RejectsBadNamesAndConflicts) {
  Registry registry;
  EXPECT_THROW(registry.counter("bad-name", "x"), Error);
  EXPECT_THROW(registry.counter("9lives", "x"), Error);
  EXPECT_THROW(registry.counter("ok_total", "x", {"le"}), Error);
  EXPECT_THROW(registry.counter("ok_total", "x", {"__reserved"}), Error);
  auto& family = registry.counter("ok_total", "x", {"a"});
  EXPECT_EQ(&registry.counter("ok_total", "x", {"a"}), &family);  // same family again
  EXPECT_THROW(registry.gauge("ok_total", "x", {"a"}), Error);
  EXPECT_THROW(registry.counter("ok_total", "x", {"b"}), Error);
  EXPECT_THROW(family.labels({"1", "2"}), Error);
  EXPECT_THROW(registry.histogram("h", "x", {}, {1, 0.5}), Error);
  EXPECT_THROW(registry.callback_gauge("ok_total", "x", [] { return 0.0; }), Error);
}

TEST(RegistryTest, ConcurrentUpdatesAreNotLost) {
  Registry registry;
  auto& counter = registry.counter("n_total", "n", {"t"});
  auto& histogram = registry.histogram("h_seconds", "h", {}, latency_buckets_seconds());
  std::vector<std::thread> threads;
  for (int thread_idx = 0; thread_idx < 4; ++thread_idx) {
    threads.emplace_back([&] {
      for (int idx = 0; idx < 10000; ++idx) {
        counter.labels({"x"}).inc();
        histogram.get().observe(0.002);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(counter.labels({"x"}).value(), 40000);
  const Histogram::Snapshot snapshot = histogram.get().snapshot();
  EXPECT_EQ(snapshot.count, 40000u);
  EXPECT_EQ(snapshot.cumulative[0], 0u);   // le 0.001
  EXPECT_EQ(snapshot.cumulative[1], 40000u);  // le 0.0025
}

}  // namespace
}  // namespace tether::metrics
