#include <csignal>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include <boost/asio/signal_set.hpp>
#include <boost/asio/strand.hpp>
#include <boost/json/object.hpp>
#include <fmt/format.h>

#include "api/api_service.h"
#include "cli/async_stack.h"
#include "cli/commands.h"
#include "cli/serve_config.h"
#include "cli/serve_state.h"
#include "common/error.h"
#include "engine/model/demo_model.h"
#include "engine/model/llama_model.h"
#include "http/server.h"
#include "router/health_checker.h"
#include "router/router_metrics.h"
#include "router/upstream.h"

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
      body["model"] = state.model_id();
      co_await exchange.respond_json(200, body);
    }
  });
  server.router().add("GET", "/metrics", [&state](http::Exchange& exchange) -> boost::asio::awaitable<void> {
    co_await exchange.respond(200, state.metrics().expose(), metrics::Registry::kContentType);
  });
}

// The aliases the config gives the served model.
std::vector<std::string> aliases_of(const ServeConfig& config, std::string_view model) {
  std::vector<std::string> aliases;
  for (const ModelAlias& alias : config.aliases) {
    if (alias.model == model) aliases.push_back(alias.alias);
  }
  return aliases;
}

// Loads the local model (with its replicas), builds a route per served model
// name over local replicas and upstreams, exports the routers' metrics and
// starts the upstreams' health checks (returned; null without upstreams).
std::unique_ptr<router::HealthChecker> add_routes(const ServeConfig& config, api::ApiService& api,
                                                  metrics::Registry& registry, ServeState& state,
                                                  boost::asio::any_io_executor executor) {
  std::vector<std::shared_ptr<router::Upstream>> upstreams;
  for (const UpstreamConfig& upstream : config.upstreams) {
    upstreams.push_back(std::make_shared<router::Upstream>(upstream.options()));
  }
  auto upstreams_of = [&](std::string_view model) {
    std::vector<std::shared_ptr<router::Upstream>> found;
    for (size_t i : config.upstreams_for(model)) found.push_back(upstreams[i]);
    return found;
  };
  std::vector<std::shared_ptr<api::ModelRoute>> routes;
  std::shared_ptr<api::ServedModel> served;
  const std::string name = config.served_model_name();
  if (config.replicas > 0) {
    served = api::load_served_model(config.model, name, aliases_of(config, name), config.engine_options(),
                                    config.replicas);
    routes.push_back(api::make_model_route(served, upstreams_of(name), config.routing.router_options(name),
                                           config.routing.affinity_sources()));
  }
  for (const std::string& model : config.upstream_only_models()) {
    routes.push_back(api::make_model_route(nullptr, upstreams_of(model), config.routing.router_options(model),
                                           config.routing.affinity_sources(), model, aliases_of(config, model)));
  }
  for (const auto& route : routes) {
    router::register_router_metrics(registry, route->id, route->router);
    api.add_route(route);
  }
  state.set_model(name, served);
  if (upstreams.empty()) return nullptr;
  // Health checks mark an upstream down or up again in every route it is part of.
  // Each change is logged (the probes of one checker run on one strand).
  auto last = std::make_shared<std::map<std::string, bool>>();
  auto checker = std::make_unique<router::HealthChecker>(
      executor, upstreams, [routes, last](const std::string& id, bool healthy) {
        auto [it, first] = last->try_emplace(id, healthy);
        if ((first && !healthy) || (!first && it->second != healthy)) {
          std::fprintf(stderr, "tether serve: upstream %s is %s\n", id.c_str(),
                       healthy ? "healthy again" : "down (failed its health check)");
        }
        it->second = healthy;
        for (const auto& route : routes) {
          if (route->upstream(id)) route->router->set_healthy(id, healthy);
        }
      });
  checker->start();
  return checker;
}

void run_serve(const ServeConfig& config) {
  config.validate();
  metrics::Registry registry;
  // The server (and its io_context) is built before the engine, so it
  // outlives every callback the engine runs, cancellations at shutdown included.
  http::ServerOptions server_options = config.server;
  for (std::string& key : tenant_api_keys(config.async)) server_options.extra_api_keys.push_back(std::move(key));
  http::Server server(server_options, &registry);
  ServeState state(config, registry);
  add_probe_routes(server, state);
  registry.callback_gauge("tether_model_ready", "1 once the model is loaded and serving",
                          [&state] { return state.ready() ? 1.0 : 0.0; });
  // The OpenAI- and Workers-AI-compatible routes; they answer 503 until the
  // model below is loaded. Async jobs are taken (and queued) at once.
  api::ApiService api({}, &registry);
  api.register_routes(server.router());
  AsyncStack async(config.async, api, server.router(), &registry);

  server.start();
  const bool v6 = config.server.host.find(':') != std::string::npos;
  std::fprintf(stdout, "listening on http://%s%s%s:%u\n", v6 ? "[" : "", config.server.host.c_str(), v6 ? "]" : "",
               static_cast<unsigned>(server.port()));
  std::fflush(stdout);

  boost::asio::signal_set signals(server.io_context(), SIGINT, SIGTERM);
  const auto drain = std::chrono::milliseconds(config.drain_timeout_ms);
  // Async dispatch stops first (its running items go back to the queue),
  // off the io thread that its stop waits on; then the server drains.
  std::thread stopper;
  signals.async_wait([&server, &signals, &async, &stopper, drain](const boost::system::error_code& ec,
                                                                   int signal_number) {
    if (ec) return;
    std::fprintf(stderr, "tether serve: signal %d, draining (up to %lld ms; again to stop now)\n", signal_number,
                 static_cast<long long>(drain.count()));
    stopper = std::thread([&server, &async, drain] {
      async.stop();
      server.stop(drain);
    });
    // A second signal cuts the drain short.
    signals.async_wait([&server](const boost::system::error_code& again_ec, int) {
      if (!again_ec) server.stop_now();
    });
  });
  std::thread io_thread([&server] { server.run(); });

  std::unique_ptr<router::HealthChecker> health;
  try {
    health = add_routes(config, api, registry, state, server.io_context().get_executor());
    async.start(api.routes(), boost::asio::make_strand(server.io_context()));
  } catch (...) {
    server.stop(std::chrono::milliseconds(0));
    io_thread.join();
    if (stopper.joinable()) stopper.join();
    throw;
  }
  io_thread.join();
  if (stopper.joinable()) stopper.join();
  if (health) health->stop();
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
  auto* replicas = command->add_option("--replicas", v.replicas,
                                      "Local engine replicas (each its own KV pool and scheduler); 0 = upstreams only")
                       ->capture_default_str();
  auto upstream_urls = std::make_shared<std::vector<std::string>>();
  auto* upstream = command->add_option("--upstream", *upstream_urls,
                                       "An upstream's URL (repeatable): another tether serve or any OpenAI-compatible "
                                       "server, serving the same model name");
  auto* policy = command->add_option("--routing-policy", v.routing.policy,
                                     "affinity, prefix, least-loaded or round-robin")
                     ->capture_default_str();
  auto* load_bound = command->add_option("--load-bound", v.routing.load_bound,
                                         "Affinity: a replica above this x the mean load spills")
                         ->capture_default_str();
  auto* store = command->add_option("--store", v.async.store,
                                    "Async job store: sqlite:PATH (one server) or postgres://... (gateways sharing "
                                    "one queue)")
                    ->capture_default_str();
  command->callback([flags, &result, store, model, model_name, host, port, api_key, threads, kv, running, queued, cache_dir,
                     io_threads, drain, replicas, upstream, upstream_urls, policy, load_bound] {
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
    if (replicas->count()) config.replicas = f.replicas;
    if (upstream->count()) {
      for (const std::string& url : *upstream_urls) {
        UpstreamConfig added;
        added.url = url;
        config.upstreams.push_back(std::move(added));
      }
    }
    if (policy->count()) config.routing.policy = f.routing.policy;
    if (load_bound->count()) config.routing.load_bound = f.routing.load_bound;
    if (store->count()) config.async.store = f.async.store;
    run_serve(config);
    result.exit_code = 0;
  });
}

}  // namespace tether::cli
