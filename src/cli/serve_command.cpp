#include <csignal>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>

#include <boost/asio/signal_set.hpp>
#include <boost/json/object.hpp>
#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/serve_config.h"
#include "cli/serve_state.h"
#include "common/error.h"
#include "engine/model/demo_model.h"
#include "engine/model/llama_model.h"
#include "http/server.h"

namespace tether::cli {
namespace {

// Flag values; applied over the config file only when given.
struct ServeFlags {
  std::string config_path;
  ServeConfig values;
};

boost::asio::awaitable<void> respond_status(http::Exchange& exchange, int status, std::string_view text) {
  boost::json::object body;
  body["status"] = text;
  co_await exchange.respond_json(status, body);
}

// GET /health (alive), GET /ready (model loaded and not draining), GET /metrics.
void add_probe_routes(http::Server& server, const ServeState& state) {
  server.router().add("GET", "/health", [](http::Exchange& exchange) -> boost::asio::awaitable<void> {
    co_await respond_status(exchange, 200, "ok");
  });
  server.router().add("GET", "/ready", [&server, &state](http::Exchange& exchange) -> boost::asio::awaitable<void> {
    if (server.draining()) {
      co_await exchange.respond_error(http::HttpError::unavailable("the server is draining", 5));
    } else if (!state.ready()) {
      co_await exchange.respond_error(http::HttpError::unavailable("the model is loading", 1));
    } else {
      boost::json::object body;
      body["status"] = "ready";
      body["model"] = state.model().name;
      co_await exchange.respond_json(200, body);
    }
  });
  server.router().add("GET", "/metrics", [&state](http::Exchange& exchange) -> boost::asio::awaitable<void> {
    co_await exchange.respond(200, state.metrics().expose(), metrics::Registry::kContentType);
  });
}

// Engine gauges and counters, read from Engine::stats() at scrape time.
void add_engine_metrics(metrics::Registry& registry, const ServeState& state) {
  using Read = std::function<double(const sched::EngineStats&)>;
  auto add = [&registry, &state](const std::string& name, const std::string& help, std::string_view type, Read read) {
    registry.callback(name, help, type, {}, [&state, read]() -> std::vector<metrics::Registry::Sample> {
      if (!state.ready()) return {};
      return {{{}, read(state.model().engine->stats())}};
    });
  };
  add("tether_engine_requests_running", "Sequences started and not finished", "gauge",
      [](const sched::EngineStats& s) { return s.running; });
  add("tether_engine_requests_waiting", "Accepted requests not started yet (preempted ones included)", "gauge",
      [](const sched::EngineStats& s) { return s.waiting; });
  add("tether_kv_blocks_used", "KV cache blocks referenced by a sequence", "gauge",
      [](const sched::EngineStats& s) { return s.kv.used_blocks; });
  add("tether_kv_blocks_free", "KV cache blocks allocatable (cached ones included)", "gauge",
      [](const sched::EngineStats& s) { return s.kv.free_blocks; });
  add("tether_kv_blocks_cached", "Unreferenced KV cache blocks still reusable by prefix", "gauge",
      [](const sched::EngineStats& s) { return s.kv.cached_blocks; });
  add("tether_kv_blocks_total", "KV cache blocks in the pool", "gauge",
      [](const sched::EngineStats& s) { return s.kv.total_blocks; });
  add("tether_prefix_cache_hit_ratio", "Prompt tokens served from the prefix cache over prompt tokens looked up",
      "gauge", [](const sched::EngineStats& s) {
        return s.kv.query_tokens == 0 ? 0.0 : static_cast<double>(s.kv.hit_tokens) / s.kv.query_tokens;
      });
  add("tether_prefix_cache_hit_tokens_total", "Prompt tokens served from the prefix cache", "counter",
      [](const sched::EngineStats& s) { return static_cast<double>(s.kv.hit_tokens); });
  add("tether_prefix_cache_query_tokens_total", "Prompt tokens looked up in the prefix cache", "counter",
      [](const sched::EngineStats& s) { return static_cast<double>(s.kv.query_tokens); });
  add("tether_kv_evicted_blocks_total", "Cached KV blocks evicted for reuse", "counter",
      [](const sched::EngineStats& s) { return static_cast<double>(s.kv.evicted_blocks); });
  add("tether_engine_steps_total", "Forward steps run", "counter",
      [](const sched::EngineStats& s) { return static_cast<double>(s.steps); });
  add("tether_engine_step_tokens_total", "Tokens computed by forward steps", "counter",
      [](const sched::EngineStats& s) { return static_cast<double>(s.step_tokens); });
  add("tether_engine_preemptions_total", "Sequences preempted for KV space", "counter",
      [](const sched::EngineStats& s) { return static_cast<double>(s.preemptions); });
  add("tether_engine_rejected_total", "Requests refused because the queue was full", "counter",
      [](const sched::EngineStats& s) { return static_cast<double>(s.rejected); });
  registry.callback("tether_engine_requests_finished_total", "Requests finished, by outcome", "counter", {"status"},
                    [&state]() -> std::vector<metrics::Registry::Sample> {
                      if (!state.ready()) return {};
                      const sched::EngineStats s = state.model().engine->stats();
                      return {{{"completed"}, static_cast<double>(s.completed)},
                              {{"cancelled"}, static_cast<double>(s.cancelled)},
                              {{"failed"}, static_cast<double>(s.failed)}};
                    });
  registry.callback_gauge("tether_model_ready", "1 once the model is loaded and serving",
                          [&state] { return state.ready() ? 1.0 : 0.0; });
}

ServedModel load_model(const ServeConfig& config) {
  ServedModel served;
  served.name = config.served_model_name();
  served.file = std::make_shared<const gguf::GgufFile>(gguf::GgufFile::open(model::resolve_model_path(config.model)));
  served.tokenizer = std::make_shared<const tokenizer::Tokenizer>(tokenizer::Tokenizer::from_gguf(*served.file));
  auto model = std::make_shared<model::LlamaModel>(model::LlamaModel::load(served.file));
  served.engine = std::make_shared<sched::Engine>(std::move(model), served.tokenizer, config.engine_options());
  return served;
}

void run_serve(const ServeConfig& config) {
  config.validate();
  metrics::Registry registry;
  // The server (and its io_context) is built before the engine, so it
  // outlives every callback the engine runs, cancellations at shutdown included.
  http::Server server(config.server, &registry);
  ServeState state(config, registry);
  add_probe_routes(server, state);
  add_engine_metrics(registry, state);

  // ---- API routes ----------------------------------------------------------
  // The OpenAI- and Workers-AI-compatible routes register here, e.g.
  //   api::register_routes(server.router(), state);
  // Handlers must check state.ready() (503 while the model loads) and use
  // state.model() (engine, tokenizer, GGUF metadata) and state.config().aliases.
  // ---------------------------------------------------------------------------

  server.start();
  const bool v6 = config.server.host.find(':') != std::string::npos;
  std::fprintf(stdout, "listening on http://%s%s%s:%u\n", v6 ? "[" : "", config.server.host.c_str(), v6 ? "]" : "",
               static_cast<unsigned>(server.port()));
  std::fflush(stdout);

  boost::asio::signal_set signals(server.io_context(), SIGINT, SIGTERM);
  const auto drain = std::chrono::milliseconds(config.drain_timeout_ms);
  signals.async_wait([&server, drain](const boost::system::error_code& ec, int signal_number) {
    if (ec) return;
    std::fprintf(stderr, "tether serve: signal %d, draining (up to %lld ms)\n", signal_number,
                 static_cast<long long>(drain.count()));
    server.stop(drain);
  });
  std::thread io_thread([&server] { server.run(); });

  try {
    state.set_model(load_model(config));
  } catch (...) {
    server.stop(std::chrono::milliseconds(0));
    io_thread.join();
    throw;
  }
  std::fprintf(stderr, "tether serve: model '%s' ready (%d KV blocks)\n", state.model().name.c_str(),
               state.model().engine->total_blocks());
  io_thread.join();
  state.set_unready();
  std::fprintf(stderr, "tether serve: stopped\n");
}

}  // namespace

void add_serve_command(CLI::App& app, CommandResult& result) {
  auto flags = std::make_shared<ServeFlags>();
  ServeConfig& v = flags->values;
  CLI::App* command = app.add_subcommand(
      "serve",
      "Serve a model over HTTP: OpenAI- and Workers-AI-compatible routes, /health, /ready, /metrics.\n"
      "Prints 'listening on http://HOST:PORT' once bound. SIGTERM/SIGINT drain and exit 0.\n"
      "--config FILE.yaml can say everything the flags say (flags win); see src/cli/serve_config.h.");
  command->add_option("--config", flags->config_path, "YAML config file");
  auto* model = command->add_option("--model,-m", v.model, "GGUF file, or \"demo\" (the default)");
  auto* model_name = command->add_option("--model-name", v.model_name, "The model id clients send");
  auto* host = command->add_option("--host", v.server.host, "Listen address")->capture_default_str();
  auto* port = command->add_option("--port", v.server.port, "Listen port; 0 = ephemeral")->capture_default_str();
  auto* api_key = command->add_option("--api-key", v.server.api_key, "Bearer key required on the API routes");
  auto* threads = command->add_option("--threads,-t", v.threads, "Compute threads; 0 = one per core")
                      ->capture_default_str();
  auto* kv = command->add_option("--kv-memory", v.kv_memory_mb, "KV cache budget in MiB")->capture_default_str();
  auto* running = command->add_option("--max-running", v.max_running, "Sequences in one batch")
                      ->capture_default_str();
  auto* queued = command->add_option("--max-queued", v.max_queued, "Waiting requests past this get 429")
                     ->capture_default_str();
  auto* cache_dir = command->add_option("--prefix-cache-dir", v.prefix_cache_dir,
                                        "Persistent prefix cache directory (off when empty)");
  auto* io_threads = command->add_option("--io-threads", v.server.io_threads, "Network threads")
                         ->capture_default_str();
  auto* drain = command->add_option("--drain-timeout-ms", v.drain_timeout_ms,
                                    "On SIGTERM, how long in-flight requests may finish")
                    ->capture_default_str();
  command->callback([flags, &result, model, model_name, host, port, api_key, threads, kv, running, queued, cache_dir,
                     io_threads, drain] {
    ServeConfig config;
    if (!flags->config_path.empty()) apply_serve_config_file(flags->config_path, config);
    const ServeConfig& f = flags->values;
    if (model->count()) config.model = f.model;
    if (model_name->count()) config.model_name = f.model_name;
    if (host->count()) config.server.host = f.server.host;
    if (port->count()) config.server.port = f.server.port;
    if (api_key->count()) config.server.api_key = f.server.api_key;
    if (threads->count()) config.threads = f.threads;
    if (kv->count()) config.kv_memory_mb = f.kv_memory_mb;
    if (running->count()) config.max_running = f.max_running;
    if (queued->count()) config.max_queued = f.max_queued;
    if (cache_dir->count()) config.prefix_cache_dir = f.prefix_cache_dir;
    if (io_threads->count()) config.server.io_threads = f.server.io_threads;
    if (drain->count()) config.drain_timeout_ms = f.drain_timeout_ms;
    run_serve(config);
    result.exit_code = 0;
  });
}

}  // namespace tether::cli
