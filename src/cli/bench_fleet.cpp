#include "cli/bench_fleet.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <thread>

#include <fmt/format.h>

#include "api/api_service.h"
#include "api/model_route.h"
#include "common/error.h"
#include "engine/model/demo_model.h"
#include "http/server.h"
#include "kv/kv_block_storage.h"
#include "metrics/registry.h"
#include "router/routing_policy.h"

namespace tether::cli {
namespace {

// Upper estimate of one session's last prompt, in tokens: every message, the
// answers, and a few template tokens per message.
int64_t final_context_tokens(const AgentHttpBenchOptions& a) {
  const int64_t per_message = 8;
  return a.system_tokens + per_message +
         int64_t{a.turns} * (a.user_tokens + a.gen_tokens + 2 * per_message) +
         int64_t{a.turns / 2} * (a.tool_tokens + per_message);
}

// The KV bytes per replica: what the option says, else kv_headroom x the
// final contexts of the sessions a replica would hold under an even spread.
size_t kv_bytes_per_replica(const FleetBenchOptions& o, const model::LlamaModel& model) {
  if (o.kv_memory_mb > 0) return static_cast<size_t>(o.kv_memory_mb) << 20;
  const kv::KvShape shape = model.kv_shape();
  const size_t per_token = kv::kv_block_bytes(shape) / static_cast<size_t>(shape.block_tokens);
  const int64_t sessions_each = (o.agent.sessions + o.replicas - 1) / o.replicas;
  const double tokens = o.kv_headroom * static_cast<double>(sessions_each * final_context_tokens(o.agent));
  return static_cast<size_t>(tokens) * per_token + 4 * kv::kv_block_bytes(shape);
}

struct PolicyRun {
  std::string policy;
  AgentHttpResult result;
  std::vector<router::ReplicaStats> replicas;
  std::map<std::string, uint64_t> decisions;
};

PolicyRun run_policy(const FleetBenchOptions& o, const std::shared_ptr<const gguf::GgufFile>& file,
                     const std::string& policy_name) {
  const std::optional<router::RoutingPolicy> policy = router::parse_routing_policy(policy_name);
  if (!policy) {
    throw_error(ErrorCode::kInvalidArgument,
                "fleet: unknown policy '{}' (known: affinity, prefix, least-loaded, round-robin)", policy_name);
  }
  sched::EngineOptions engine;
  engine.threads = o.threads;
  std::shared_ptr<api::ServedModel> served = api::make_served_model(file, "fleet", {}, engine, 1);
  engine.kv_memory_bytes = kv_bytes_per_replica(o, *served->model);
  served = api::make_served_model(file, "fleet", {}, engine, o.replicas);
  router::RouterOptions options;
  options.policy = *policy;
  auto route = api::make_model_route(served, {}, options);

  metrics::Registry registry;
  http::ServerOptions server_options;
  server_options.host = "127.0.0.1";
  server_options.port = 0;
  server_options.access_log = false;
  http::Server server(server_options, &registry);
  api::ApiService api({}, &registry);
  api.add_route(route);
  api.register_routes(server.router());
  server.start();
  std::thread io([&server] { server.run(); });

  PolicyRun run;
  run.policy = policy_name;
  AgentHttpBenchOptions agent = o.agent;
  agent.url = fmt::format("http://127.0.0.1:{}", server.port());
  agent.model_name = "fleet";
  agent.model_path = o.model_path;
  std::exception_ptr failure;
  try {
    run.result = run_agent_http(agent);
  } catch (...) {
    failure = std::current_exception();
  }
  run.replicas = route->router->stats();
  run.decisions = route->router->decisions();
  server.stop(std::chrono::milliseconds(0));
  io.join();
  if (failure) std::rethrow_exception(failure);
  return run;
}

double cached_share(const std::vector<AgentTurn>& turns) {
  double prompt = 0, cached = 0;
  for (const AgentTurn& turn : turns) {
    prompt += turn.prompt_tokens;
    cached += std::max(0, turn.cached_tokens);
  }
  return prompt > 0 ? cached / prompt : 0.0;
}

// Max over mean of the replicas' time-averaged in-flight requests.
double load_imbalance(const std::vector<router::ReplicaStats>& replicas) {
  double total = 0, most = 0;
  for (const auto& replica : replicas) {
    total += replica.in_flight_seconds;
    most = std::max(most, replica.in_flight_seconds);
  }
  return total > 0 ? most / (total / static_cast<double>(replicas.size())) : 0.0;
}

std::string run_json(const PolicyRun& run) {
  std::string replicas;
  for (const auto& replica : run.replicas) {
    const double share = replica.prompt_tokens > 0
                             ? static_cast<double>(replica.cached_tokens) / static_cast<double>(replica.prompt_tokens)
                             : 0.0;
    replicas += fmt::format("{}{{\"id\":\"{}\",\"requests\":{},\"in_flight_avg\":{:.2f},\"cached_share\":{:.3f}}}",
                            replicas.empty() ? "" : ",", replica.id, replica.requests,
                            run.result.wall_s > 0 ? replica.in_flight_seconds / run.result.wall_s : 0.0, share);
  }
  std::string decisions;
  for (const auto& [reason, count] : run.decisions) {
    decisions += fmt::format("{}\"{}\":{}", decisions.empty() ? "" : ",", reason, count);
  }
  return fmt::format(
      "{{\"policy\":\"{}\",\"load_max_over_mean\":{:.3f},\"decisions\":{{{}}},\"replicas\":[{}],{}}}", run.policy,
      load_imbalance(run.replicas), decisions, replicas, agent_turns_json_fields(run.result.turns, run.result.wall_s));
}

}  // namespace

void run_fleet_bench(const FleetBenchOptions& o) {
  if (o.replicas < 1 || o.replicas > 64) {
    throw_error(ErrorCode::kInvalidArgument, "fleet: --replicas must be in [1, 64], got {}", o.replicas);
  }
  if (o.policies.empty()) throw_error(ErrorCode::kInvalidArgument, "fleet: no policy to run");
  auto file = std::make_shared<const gguf::GgufFile>(gguf::GgufFile::open(model::resolve_model_path(o.model_path)));
  std::vector<PolicyRun> runs;
  for (const std::string& policy : o.policies) runs.push_back(run_policy(o, file, policy));

  std::string body;
  double affinity_share = -1, round_robin_share = -1;
  for (const PolicyRun& run : runs) {
    body += (body.empty() ? "" : ",") + run_json(run);
    if (run.policy == "affinity") affinity_share = cached_share(run.result.turns);
    if (run.policy == "round-robin") round_robin_share = cached_share(run.result.turns);
  }
  const std::string ratio = affinity_share >= 0 && round_robin_share > 0
                                ? fmt::format("{:.2f}", affinity_share / round_robin_share)
                                : std::string("null");
  const AgentHttpBenchOptions& a = o.agent;
  fmt::print(
      "{{\"workload\":\"fleet\",\"model\":\"{}\",\"replicas\":{},\"threads_per_replica\":{},\"kv_headroom\":{},"
      "\"sessions\":{},\"turns\":{},\"system_tokens\":{},\"system_prompts\":\"{}\",\"user_tokens\":{},"
      "\"gen_tokens\":{},\"tool_tokens\":{},\"affinity_over_round_robin_cached_share\":{},\"runs\":[{}]}}\n",
      o.model_path, o.replicas, o.threads, o.kv_memory_mb > 0 ? std::string("null") : fmt::format("{}", o.kv_headroom),
      a.sessions, a.turns, a.system_tokens,
      a.distinct_system ? "distinct" : "shared", a.user_tokens, a.gen_tokens, a.tool_tokens, ratio, body);
}

}  // namespace tether::cli
