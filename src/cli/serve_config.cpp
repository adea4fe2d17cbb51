#include "cli/serve_config.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <sstream>

#include <yaml-cpp/yaml.h>

#include "common/error.h"
#include "cli/yaml_values.h"
#include "engine/model/demo_model.h"

namespace tether::cli {
namespace {

UpstreamConfig parse_upstream(const YAML::Node& node, std::string_view source) {
  UpstreamConfig upstream;
  if (node.IsScalar()) {  // just its URL
    upstream.url = node.Scalar();
    return upstream;
  }
  require_map(node, source, "upstreams");
  constexpr int64_t kDay = int64_t{24} * 3600 * 1000;
  for (const auto& item : node) {
    const std::string key = scalar(item.first, source, "upstreams");
    const YAML::Node& value = item.second;
    if (key == "url") {
      upstream.url = scalar(value, source, key);
    } else if (key == "id") {
      upstream.id = as_string(value, source, key);
    } else if (key == "models") {
      upstream.models = as_string_list(value, source, key);
    } else if (key == "model") {
      upstream.model = as_string(value, source, key);
    } else if (key == "api_key") {
      upstream.api_key = as_string(value, source, key);
    } else if (key == "workers_ai") {
      upstream.workers_ai = as_bool(value, source, key);
    } else if (key == "connect_timeout_ms") {
      upstream.connect_timeout_ms = as_integer(value, source, key, 1, kDay);
    } else if (key == "response_timeout_ms") {
      upstream.response_timeout_ms = as_integer(value, source, key, 1, kDay);
    } else if (key == "idle_timeout_ms") {
      upstream.idle_timeout_ms = as_integer(value, source, key, 1, kDay);
    } else if (key == "max_idle_connections") {
      upstream.max_idle_connections = as_integer(value, source, key, 0, 65536);
    } else if (key == "health_path") {
      upstream.health_path = scalar(value, source, key);
    } else if (key == "health_interval_ms") {
      upstream.health_interval_ms = as_integer(value, source, key, 1, kDay);
    } else {
      throw_error(ErrorCode::kInvalidArgument, "{}: {}: unknown key 'upstreams.{}'", source, mark_of(item.first), key);
    }
  }
  return upstream;
}

void parse_routing(const YAML::Node& node, std::string_view source, RoutingConfig& routing) {
  if (node.IsNull()) return;
  require_map(node, source, "routing");
  for (const auto& item : node) {
    const std::string key = scalar(item.first, source, "routing");
    const YAML::Node& value = item.second;
    if (key == "policy") {
      routing.policy = scalar(value, source, key);
    } else if (key == "model_policies") {
      if (value.IsNull()) continue;
      require_map(value, source, key);
      for (const auto& entry : value) {
        routing.model_policies.emplace_back(scalar(entry.first, source, key), scalar(entry.second, source, key));
      }
    } else if (key == "load_bound") {
      routing.load_bound = as_number(value, source, key, 1.0, 1000.0);
    } else if (key == "prefix_load_weight") {
      routing.prefix_load_weight = as_number(value, source, key, 0.0, 1e9);
    } else if (key == "affinity_from") {
      routing.affinity_from = as_string_list(value, source, key);
    } else if (key == "prefix_index_chunks") {
      routing.prefix_index_chunks = as_integer(value, source, key, 1, int64_t{1} << 30);
    } else if (key == "prefix_ttl_ms") {
      routing.prefix_ttl_ms = as_integer(value, source, key, 1, int64_t{365} * 24 * 3600 * 1000);
    } else if (key == "eject_after_failures") {
      routing.eject_after_failures = as_integer(value, source, key, 1, 1'000'000);
    } else {
      throw_error(ErrorCode::kInvalidArgument, "{}: {}: unknown key 'routing.{}'", source, mark_of(item.first), key);
    }
  }
}

}  // namespace

router::UpstreamOptions UpstreamConfig::options() const {
  router::UpstreamOptions options;
  options.id = id;
  options.url = url;
  options.model = model;
  options.api_key = api_key;
  options.workers_ai = workers_ai;
  options.connect_timeout = std::chrono::milliseconds(connect_timeout_ms);
  options.response_timeout = std::chrono::milliseconds(response_timeout_ms);
  options.idle_timeout = std::chrono::milliseconds(idle_timeout_ms);
  options.max_idle_connections = static_cast<size_t>(max_idle_connections);
  options.health_path = health_path;
  options.health_interval = std::chrono::milliseconds(health_interval_ms);
  return options;
}

router::RouterOptions RoutingConfig::router_options(std::string_view model) const {
  router::RouterOptions options;
  std::string name = policy;
  for (const auto& [model_name, model_policy] : model_policies) {
    if (model_name == model) name = model_policy;
  }
  const std::optional<router::RoutingPolicy> parsed = router::parse_routing_policy(name);
  if (!parsed) {
    throw_error(ErrorCode::kInvalidArgument,
                "unknown routing policy '{}' (known: affinity, prefix, least-loaded, round-robin)", name);
  }
  options.policy = *parsed;
  options.load_bound = load_bound;
  options.prefix_load_weight = prefix_load_weight;
  options.prefix_index_capacity = static_cast<size_t>(prefix_index_chunks);
  options.prefix_ttl = std::chrono::milliseconds(prefix_ttl_ms);
  options.eject_after_failures = static_cast<int>(eject_after_failures);
  return options;
}

router::AffinitySources RoutingConfig::affinity_sources() const {
  router::AffinitySources sources;
  sources.prompt_cache_key = false;
  sources.user = false;
  for (const std::string& field : affinity_from) {
    if (field == "prompt_cache_key") {
      sources.prompt_cache_key = true;
    } else if (field == "user") {
      sources.user = true;
    } else {
      throw_error(ErrorCode::kInvalidArgument,
                  "routing.affinity_from: unknown field '{}' (known: prompt_cache_key, user)", field);
    }
  }
  return sources;
}

std::vector<size_t> ServeConfig::upstreams_for(std::string_view model) const {
  std::vector<size_t> found;
  const std::string local = served_model_name();
  for (size_t i = 0; i < upstreams.size(); ++i) {
    const auto& names = upstreams[i].models;
    const bool serves = names.empty() ? model == local : std::find(names.begin(), names.end(), model) != names.end();
    if (serves) found.push_back(i);
  }
  return found;
}

std::vector<std::string> ServeConfig::upstream_only_models() const {
  std::vector<std::string> names;
  const std::string local = replicas > 0 ? served_model_name() : std::string();
  for (const UpstreamConfig& upstream : upstreams) {
    for (const std::string& name : upstream.models) {
      if ((replicas == 0 || name != local) && std::find(names.begin(), names.end(), name) == names.end()) {
        names.push_back(name);
      }
    }
  }
  // Upstreams that name no model serve the configured model name; with no
  // local replica that is an upstream-only model too.
  if (replicas == 0 && !upstreams_for(served_model_name()).empty() &&
      std::find(names.begin(), names.end(), served_model_name()) == names.end()) {
    names.push_back(served_model_name());
  }
  return names;
}

std::string ServeConfig::served_model_name() const {
  if (!model_name.empty()) return model_name;
  if (model == model::kDemoModelArg) return "demo";
  std::filesystem::path path(model);
  return path.extension() == ".gguf" ? path.stem().string() : path.filename().string();
}

sched::EngineOptions ServeConfig::engine_options() const {
  sched::EngineOptions options;
  options.threads = threads;
  options.kv_memory_bytes = static_cast<size_t>(kv_memory_mb) << 20;
  options.max_running = max_running;
  options.max_queued = max_queued;
  options.persistent_cache_dir = prefix_cache_dir;
  options.persistent_cache_max_bytes = static_cast<uint64_t>(prefix_cache_max_mb) << 20;
  options.async_yields_to_prefill = async.yield_to_prefill;
  options.async_prefill_chunk = async.prefill_chunk;
  return options;
}

void ServeConfig::validate() const {
  if (model.empty()) throw_error(ErrorCode::kInvalidArgument, "model must not be empty");
  if (threads < 0 || threads > 1024) throw_error(ErrorCode::kInvalidArgument, "threads must be in [0, 1024], got {}", threads);
  if (kv_memory_mb < 1 || kv_memory_mb > (int64_t{1} << 24)) {
    throw_error(ErrorCode::kInvalidArgument, "kv_memory must be in [1, 16777216] MiB, got {}", kv_memory_mb);
  }
  if (max_running < 1 || max_running > 4096) {
    throw_error(ErrorCode::kInvalidArgument, "max_running must be in [1, 4096], got {}", max_running);
  }
  if (max_queued < 0 || max_queued > 1'000'000) {
    throw_error(ErrorCode::kInvalidArgument, "max_queued must be in [0, 1000000], got {}", max_queued);
  }
  if (server.io_threads < 1 || server.io_threads > 256) {
    throw_error(ErrorCode::kInvalidArgument, "io_threads must be in [1, 256], got {}", server.io_threads);
  }
  if (drain_timeout_ms < 0) throw_error(ErrorCode::kInvalidArgument, "drain_timeout_ms must not be negative");
  for (const ModelAlias& alias : aliases) {
    if (alias.alias.empty() || alias.model.empty()) {
      throw_error(ErrorCode::kInvalidArgument, "model aliases need a name and a model");
    }
  }
  if (replicas < 0 || replicas > 64) throw_error(ErrorCode::kInvalidArgument, "replicas must be in [0, 64], got {}", replicas);
  if (replicas == 0 && upstreams.empty()) {
    throw_error(ErrorCode::kInvalidArgument, "replicas 0 needs at least one upstream to route to");
  }
  for (const UpstreamConfig& upstream : upstreams) {
    if (upstream.url.empty()) throw_error(ErrorCode::kInvalidArgument, "every upstream needs a url");
    router::Upstream check(upstream.options());  // a bad URL is an error now, not at the first request
  }
  routing.affinity_sources();
  routing.router_options(served_model_name());
  for (const auto& [model_name, policy] : routing.model_policies) routing.router_options(model_name);
  if (routing.load_bound < 1.0) throw_error(ErrorCode::kInvalidArgument, "routing.load_bound must be at least 1");
  async.validate();
}

void apply_serve_config_yaml(std::string_view yaml_text, std::string_view source, ServeConfig& config) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml_text));
  } catch (const YAML::Exception& e) {
    throw_error(ErrorCode::kInvalidArgument, "{}: invalid YAML: {}", source, e.what());
  }
  if (root.IsNull()) return;  // an empty file says nothing
  if (!root.IsMap()) throw_error(ErrorCode::kInvalidArgument, "{}: the top level must be a mapping of keys", source);
  constexpr int64_t kIntMax = std::numeric_limits<int32_t>::max();
  for (const auto& item : root) {
    if (!item.first.IsScalar()) throw_error(ErrorCode::kInvalidArgument, "{}: keys must be plain names", source);
    const std::string key = item.first.Scalar();
    const YAML::Node& value = item.second;
    if (key == "model") {
      config.model = scalar(value, source, key);
    } else if (key == "model_name") {
      config.model_name = as_string(value, source, key);
    } else if (key == "aliases") {
      if (value.IsNull()) continue;
      if (!value.IsMap()) {
        throw_error(ErrorCode::kInvalidArgument, "{}: {}: 'aliases' must map alias names to served model names",
                    source, mark_of(value));
      }
      for (const auto& alias : value) {
        config.aliases.push_back({scalar(alias.first, source, "aliases"), scalar(alias.second, source, "aliases")});
      }
    } else if (key == "host") {
      config.server.host = scalar(value, source, key);
    } else if (key == "port") {
      config.server.port = static_cast<uint16_t>(as_integer(value, source, key, 0, 65535));
    } else if (key == "api_key") {
      config.server.api_key = as_string(value, source, key);
    } else if (key == "threads") {
      config.threads = static_cast<int32_t>(as_integer(value, source, key, 0, 1024));
    } else if (key == "kv_memory") {
      config.kv_memory_mb = as_integer(value, source, key, 1, int64_t{1} << 24);
    } else if (key == "max_running") {
      config.max_running = static_cast<int32_t>(as_integer(value, source, key, 1, 4096));
    } else if (key == "max_queued") {
      config.max_queued = static_cast<int32_t>(as_integer(value, source, key, 0, 1'000'000));
    } else if (key == "prefix_cache_dir") {
      config.prefix_cache_dir = as_string(value, source, key);
    } else if (key == "prefix_cache_max_mb") {
      config.prefix_cache_max_mb = as_integer(value, source, key, 0, int64_t{1} << 30);
    } else if (key == "io_threads") {
      config.server.io_threads = static_cast<int>(as_integer(value, source, key, 1, 256));
    } else if (key == "max_connections") {
      config.server.max_connections = static_cast<size_t>(as_integer(value, source, key, 1, kIntMax));
    } else if (key == "max_header_bytes") {
      config.server.max_header_bytes = static_cast<size_t>(as_integer(value, source, key, 1024, kIntMax));
    } else if (key == "max_body_bytes") {
      config.server.max_body_bytes = static_cast<size_t>(as_integer(value, source, key, 1, int64_t{1} << 40));
    } else if (key == "header_timeout_ms") {
      config.server.header_timeout = as_ms(value, source, key);
    } else if (key == "body_timeout_ms") {
      config.server.body_timeout = as_ms(value, source, key);
    } else if (key == "idle_timeout_ms") {
      config.server.idle_timeout = as_ms(value, source, key);
    } else if (key == "write_timeout_ms") {
      config.server.write_timeout = as_ms(value, source, key);
    } else if (key == "drain_timeout_ms") {
      config.drain_timeout_ms = as_integer(value, source, key, 0, int64_t{24} * 3600 * 1000);
    } else if (key == "access_log") {
      config.server.access_log = as_bool(value, source, key);
    } else if (key == "replicas") {
      config.replicas = static_cast<int32_t>(as_integer(value, source, key, 0, 64));
    } else if (key == "upstreams") {
      if (value.IsNull()) continue;
      if (!value.IsSequence()) {
        throw_error(ErrorCode::kInvalidArgument, "{}: {}: 'upstreams' must be a list", source, mark_of(value));
      }
      for (const auto& upstream : value) config.upstreams.push_back(parse_upstream(upstream, source));
    } else if (key == "routing") {
      parse_routing(value, source, config.routing);
    } else if (key == "async") {
      parse_async_config(value, source, config.async);
    } else {
      throw_error(ErrorCode::kInvalidArgument, "{}: {}: unknown key '{}'", source, mark_of(item.first), key);
    }
  }
}

void apply_serve_config_file(const std::filesystem::path& path, ServeConfig& config) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw_error(ErrorCode::kNotFound, "cannot open config file {}", path.string());
  std::ostringstream text;
  text << in.rdbuf();
  apply_serve_config_yaml(text.str(), path.string(), config);
}

}  // namespace tether::cli
