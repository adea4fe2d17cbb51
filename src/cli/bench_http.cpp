#include "cli/bench_http.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <thread>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <fmt/format.h>

#include "common/error.h"
#include "engine/gguf/gguf_file.h"
#include "engine/model/demo_model.h"
#include "engine/model/llama_model.h"
#include "http/client.h"
#include "http/event_channel.h"
#include "http/server.h"
#include "http/sse_parser.h"
#include "sched/engine.h"

namespace tether::cli {
namespace {

using Clock = std::chrono::steady_clock;
namespace asio = boost::asio;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}

double percentile(std::vector<double> values, double fraction) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const size_t idx = std::min(values.size() - 1, static_cast<size_t>(fraction * (values.size() - 1) + 0.5));
  return values[idx];
}

int process_threads() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("Threads:", 0) == 0) return std::stoi(line.substr(8));
  }
  return -1;
}

// Channels of the open SSE streams, for the producer thread.
struct StreamBoard {
  std::mutex mutex;  // guards channels
  std::vector<http::EventChannel<std::string>> channels;
  std::atomic<int> open{0};
};

struct GenerateState {
  sched::Engine* engine = nullptr;
  int32_t gen_tokens = 16;
};

void add_bench_routes(http::Router& router, StreamBoard& board, GenerateState& generate) {
  router.add("GET", "/bench/plain", [](http::Exchange& exchange) -> asio::awaitable<void> {
    co_await exchange.respond(200, "{\"ok\":true}", "application/json");
  });
  router.add("GET", "/bench/stream", [&board](http::Exchange& exchange) -> asio::awaitable<void> {
    http::EventChannel<std::string> channel(exchange);
    {
      std::lock_guard lock(board.mutex);
      board.channels.push_back(channel);
    }
    co_await exchange.start_stream(200, "text/event-stream");
    co_await exchange.write("data: open\n\n");
    ++board.open;
    while (auto item = co_await channel.next()) {
      if (!co_await exchange.write("data: " + *item + "\n\n")) break;
    }
    co_await exchange.finish();
  });
  router.add("POST", "/bench/generate", [&generate](http::Exchange& exchange) -> asio::awaitable<void> {
    http::EventChannel<std::string> channel(exchange);
    sched::Request request;
    request.generation.prompt = exchange.request().body;
    request.generation.max_tokens = generate.gen_tokens;
    request.generation.sampling.temperature = 0;
    request.generation.sampling.ignore_eos = true;
    sched::Callbacks callbacks;
    callbacks.on_token = [channel](std::string_view, const sampling::SampledToken&) { channel.push("token"); };
    callbacks.on_finish = [channel](const generation::GenerationResult&, const sched::RequestUsage& usage) {
      channel.push(fmt::format("done {:.3f}", usage.ttft_ms));
      channel.close();
    };
    const sched::SubmitResult submitted = generate.engine->submit(std::move(request), std::move(callbacks));
    if (submitted.status != sched::SubmitStatus::kAccepted) {
      throw http::HttpError::too_many_requests(submitted.error, 1);
    }
    sched::Engine* engine = generate.engine;
    const uint64_t id = submitted.id;
    exchange.on_client_gone([engine, id] { engine->cancel(id); });
    co_await exchange.start_stream(200, "text/event-stream");
    while (auto item = co_await channel.next()) {
      if (!co_await exchange.write("data: " + *item + "\n\n")) break;
    }
    co_await exchange.finish();
  });
}

asio::awaitable<void> plain_worker(uint16_t port, std::atomic<int>& remaining, std::vector<double>& latencies_ms) {
  http::HttpClient client(co_await asio::this_coro::executor, "127.0.0.1", port);
  while (remaining.fetch_sub(1) > 0) {
    const auto start = Clock::now();
    http::ClientResponse response = co_await client.request("GET", "/bench/plain");
    if (response.status != 200) throw_error(ErrorCode::kInternal, "plain request answered {}", response.status);
    latencies_ms.push_back(ms_since(start));
  }
}

asio::awaitable<void> stream_reader(uint16_t port, std::vector<double>& latencies_ms, int& events, int& completed) {
  http::HttpClient client(co_await asio::this_coro::executor, "127.0.0.1", port);
  http::ClientResponse head = co_await client.start("GET", "/bench/stream");
  if (head.status != 200) throw_error(ErrorCode::kInternal, "stream answered {}", head.status);
  http::SseParser parser;
  while (auto chunk = co_await client.next_chunk()) {
    for (const http::SseEvent& event : parser.feed(*chunk)) {
      if (event.data == "open") continue;
      latencies_ms.push_back(static_cast<double>(now_ns() - std::stoll(event.data)) / 1e6);
      ++events;
    }
  }
  ++completed;
}

asio::awaitable<void> generate_client(uint16_t port, int32_t count, std::vector<double>& added_ms,
                                      std::vector<double>& http_ttft_ms, std::vector<double>& engine_ttft_ms) {
  http::HttpClient client(co_await asio::this_coro::executor, "127.0.0.1", port);
  for (int32_t request_idx = 0; request_idx < count; ++request_idx) {
    const auto start = Clock::now();
    http::ClientResponse head = co_await client.start(
        "POST", "/bench/generate", fmt::format("Request {} asks the model for a short answer.", request_idx));
    if (head.status != 200) throw_error(ErrorCode::kInternal, "generate answered {}", head.status);
    http::SseParser parser;
    double first_ms = -1;
    double engine_ms = -1;
    while (auto chunk = co_await client.next_chunk()) {
      for (const http::SseEvent& event : parser.feed(*chunk)) {
        if (event.data == "token" && first_ms < 0) first_ms = ms_since(start);
        if (event.data.rfind("done ", 0) == 0) engine_ms = std::stod(event.data.substr(5));
      }
    }
    if (first_ms < 0 || engine_ms < 0) throw_error(ErrorCode::kInternal, "generate stream ended early");
    http_ttft_ms.push_back(first_ms);
    engine_ttft_ms.push_back(engine_ms);
    added_ms.push_back(first_ms - engine_ms);
  }
}

void run_client(asio::io_context& io) {
  io.restart();
  io.run();
}

}  // namespace

void run_http_bench(const HttpBenchOptions& options) {
  if (options.connections < 1 || options.requests < 1 || options.streams < 0 || options.stream_events < 0 ||
      options.generate_requests < 0 || options.gen_tokens < 1 || options.event_interval_ms < 0) {
    throw_error(ErrorCode::kInvalidArgument, "http bench: counts must be positive");
  }
  StreamBoard board;
  GenerateState generate;
  generate.gen_tokens = options.gen_tokens;
  http::ServerOptions server_options;
  server_options.port = 0;
  server_options.io_threads = 1;
  server_options.access_log = false;
  server_options.max_connections = static_cast<size_t>(options.streams + options.connections + 64);
  http::Server server(server_options);
  add_bench_routes(server.router(), board, generate);
  std::unique_ptr<sched::Engine> engine;
  if (options.generate_requests > 0) {
    auto file = std::make_shared<const gguf::GgufFile>(
        gguf::GgufFile::open(model::resolve_model_path(options.model_path)));
    auto tok = std::make_shared<const tokenizer::Tokenizer>(tokenizer::Tokenizer::from_gguf(*file));
    auto llama = std::make_shared<model::LlamaModel>(model::LlamaModel::load(file));
    sched::EngineOptions engine_options;
    engine_options.threads = options.threads;
    engine_options.kv_memory_bytes = size_t{64} << 20;
    engine = std::make_unique<sched::Engine>(std::move(llama), std::move(tok), engine_options);
    generate.engine = engine.get();
  }
  server.start();
  std::thread server_thread([&server] { server.run(); });
  const uint16_t port = server.port();
  asio::io_context io;
  std::exception_ptr failure;
  auto on_done = [&failure](std::exception_ptr e) {
    if (e && !failure) failure = e;
  };

  // Plain requests.
  std::atomic<int> remaining{options.requests};
  std::vector<std::vector<double>> plain_latencies(static_cast<size_t>(options.connections));
  const auto plain_start = Clock::now();
  for (auto& latencies : plain_latencies) asio::co_spawn(io, plain_worker(port, remaining, latencies), on_done);
  run_client(io);
  const double plain_seconds = ms_since(plain_start) / 1000.0;
  std::vector<double> plain_all;
  for (auto& latencies : plain_latencies) plain_all.insert(plain_all.end(), latencies.begin(), latencies.end());

  // Concurrent streams, fed from a producer thread.
  std::vector<double> event_latencies;
  int events = 0;
  int completed = 0;
  int threads_while_open = 0;
  int max_open = 0;
  const auto stream_start = Clock::now();
  if (!failure && options.streams > 0) {
    for (int32_t stream_idx = 0; stream_idx < options.streams; ++stream_idx) {
      asio::co_spawn(io, stream_reader(port, event_latencies, events, completed), on_done);
    }
    std::thread producer([&] {
      const auto deadline = Clock::now() + std::chrono::seconds(60);
      while (board.open.load() < options.streams && Clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
      max_open = board.open.load();
      threads_while_open = process_threads();
      std::vector<http::EventChannel<std::string>> channels;
      {
        std::lock_guard lock(board.mutex);
        channels = board.channels;
      }
      for (int32_t event_idx = 0; event_idx < options.stream_events; ++event_idx) {
        for (auto& channel : channels) channel.push(std::to_string(now_ns()));
        std::this_thread::sleep_for(std::chrono::milliseconds(options.event_interval_ms));
      }
      for (auto& channel : channels) channel.close();
    });
    run_client(io);
    producer.join();
  }
  const double stream_seconds = ms_since(stream_start) / 1000.0;

  // Generation through HTTP on the tiny model.
  std::vector<double> added_ms, http_ttft_ms, engine_ttft_ms;
  if (!failure && options.generate_requests > 0) {
    asio::co_spawn(io, generate_client(port, options.generate_requests, added_ms, http_ttft_ms, engine_ttft_ms),
                   on_done);
    run_client(io);
  }

  server.stop(std::chrono::milliseconds(1000));
  server_thread.join();
  if (failure) std::rethrow_exception(failure);

  boost::json::object out;
  out["workload"] = "http";
  out["server_io_threads"] = 1;
  out["plain"] = {{"connections", options.connections},
                  {"requests", static_cast<int64_t>(plain_all.size())},
                  {"requests_per_s", plain_all.size() / plain_seconds},
                  {"latency_ms_p50", percentile(plain_all, 0.5)},
                  {"latency_ms_p99", percentile(plain_all, 0.99)}};
  out["streams"] = {{"concurrent", options.streams},
                    {"open_at_once", max_open},
                    {"completed", completed},
                    {"events", events},
                    {"event_interval_ms", options.event_interval_ms},
                    {"process_threads_while_open", threads_while_open},
                    {"events_per_s", events / std::max(stream_seconds, 1e-9)},
                    {"event_latency_ms_p50", percentile(event_latencies, 0.5)},
                    {"event_latency_ms_p99", percentile(event_latencies, 0.99)}};
  if (options.generate_requests > 0) {
    out["generate"] = {{"model", options.model_path},
                       {"requests", static_cast<int64_t>(added_ms.size())},
                       {"gen_tokens", options.gen_tokens},
                       {"engine_ttft_ms_p50", percentile(engine_ttft_ms, 0.5)},
                       {"http_ttft_ms_p50", percentile(http_ttft_ms, 0.5)},
                       {"http_added_ms_p50", percentile(added_ms, 0.5)},
                       {"http_added_ms_p99", percentile(added_ms, 0.99)}};
  }
  const std::string text = boost::json::serialize(out);
  std::fprintf(stdout, "%s\n", text.c_str());
  std::fflush(stdout);
}

}  // namespace tether::cli
