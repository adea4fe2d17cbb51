#include "router/routing_policy.h"

#include <algorithm>
#include <numeric>

#include "router/rendezvous.h"

namespace tether::router {
namespace {

// The fully tied head of a sorted order (equal by `tied`) rotated by the
// ticket, so equal replicas take turns instead of the first always winning.
template <class Tied>
void rotate_tied_head(std::vector<size_t>& order, uint64_t ticket, Tied tied) {
  if (order.empty()) return;
  size_t n_tied = 1;
  while (n_tied < order.size() && tied(order[0], order[n_tied])) ++n_tied;
  const size_t shift = static_cast<size_t>(ticket % n_tied);
  std::rotate(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(shift),
              order.begin() + static_cast<std::ptrdiff_t>(n_tied));
}

std::vector<size_t> identity_order(size_t n) {
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t{0});
  return order;
}

RouteDecision by_affinity(const RouteInput& input, std::string_view key, std::span<const ReplicaLoad> replicas) {
  std::vector<std::string_view> ids;
  ids.reserve(replicas.size());
  int64_t total = 0;
  for (const ReplicaLoad& replica : replicas) {
    ids.push_back(replica.id);
    total += std::max<int64_t>(replica.in_flight, 0);
  }
  std::vector<size_t> order = rendezvous_order(key, std::span<const std::string_view>(ids));
  const double n = static_cast<double>(replicas.size());
  const double bound = std::max(1.0, input.load_bound * static_cast<double>(total + 1) / n);
  auto accepts = [&](size_t idx) { return static_cast<double>(replicas[idx].in_flight + 1) <= bound; };

  size_t chosen_pos = order.size();
  for (size_t pos = 0; pos < order.size(); ++pos) {
    if (accepts(order[pos])) {
      chosen_pos = pos;
      break;
    }
  }
  RouteReason reason = RouteReason::kAffinitySpill;
  if (chosen_pos == 0) {
    reason = RouteReason::kAffinityHome;
  } else if (chosen_pos == order.size()) {
    // Everyone is over the bound: the least loaded, earliest in the key's order.
    chosen_pos = 0;
    for (size_t pos = 1; pos < order.size(); ++pos) {
      if (replicas[order[pos]].in_flight < replicas[order[chosen_pos]].in_flight) chosen_pos = pos;
    }
  }
  std::rotate(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(chosen_pos),
              order.begin() + static_cast<std::ptrdiff_t>(chosen_pos + 1));
  return RouteDecision{std::move(order), reason};
}

RouteDecision by_prefix(const RouteInput& input, std::span<const ReplicaLoad> replicas) {
  std::vector<double> scores(replicas.size());
  for (size_t idx = 0; idx < replicas.size(); ++idx) {
    scores[idx] = static_cast<double>(replicas[idx].matched_chunks) -
                  input.prefix_load_weight * static_cast<double>(replicas[idx].in_flight);
  }
  std::vector<size_t> order = identity_order(replicas.size());
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (scores[a] != scores[b]) return scores[a] > scores[b];
    return replicas[a].in_flight < replicas[b].in_flight;
  });
  rotate_tied_head(order, input.ticket, [&](size_t a, size_t b) {
    return scores[a] == scores[b] && replicas[a].in_flight == replicas[b].in_flight;
  });
  const RouteReason reason = replicas[order[0]].matched_chunks > 0 ? RouteReason::kPrefix : RouteReason::kLeastLoaded;
  return RouteDecision{std::move(order), reason};
}

RouteDecision by_load(const RouteInput& input, std::span<const ReplicaLoad> replicas) {
  std::vector<size_t> order = identity_order(replicas.size());
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return replicas[a].in_flight < replicas[b].in_flight; });
  rotate_tied_head(order, input.ticket,
                   [&](size_t a, size_t b) { return replicas[a].in_flight == replicas[b].in_flight; });
  return RouteDecision{std::move(order), RouteReason::kLeastLoaded};
}

RouteDecision by_round_robin(const RouteInput& input, std::span<const ReplicaLoad> replicas) {
  std::vector<size_t> order = identity_order(replicas.size());
  const size_t start = static_cast<size_t>(input.ticket % replicas.size());
  std::rotate(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(start), order.end());
  return RouteDecision{std::move(order), RouteReason::kRoundRobin};
}

}  // namespace

std::string_view routing_policy_name(RoutingPolicy policy) {
  switch (policy) {
    case RoutingPolicy::kAffinity: return "affinity";
    case RoutingPolicy::kPrefix: return "prefix";
    case RoutingPolicy::kLeastLoaded: return "least-loaded";
    case RoutingPolicy::kRoundRobin: return "round-robin";
  }
  return "affinity";
}

std::optional<RoutingPolicy> parse_routing_policy(std::string_view name) {
  for (RoutingPolicy policy : {RoutingPolicy::kAffinity, RoutingPolicy::kPrefix, RoutingPolicy::kLeastLoaded,
                               RoutingPolicy::kRoundRobin}) {
    if (routing_policy_name(policy) == name) return policy;
  }
  return std::nullopt;
}

std::string_view route_reason_name(RouteReason reason) {
  switch (reason) {
    case RouteReason::kAffinityHome: return "affinity_home";
    case RouteReason::kAffinitySpill: return "affinity_spill";
    case RouteReason::kPrefix: return "prefix";
    case RouteReason::kLeastLoaded: return "load";
    case RouteReason::kRoundRobin: return "round_robin";
  }
  return "load";
}

RouteDecision decide_route(const RouteInput& input, std::span<const ReplicaLoad> replicas) {
  if (replicas.empty()) return RouteDecision{{}, RouteReason::kLeastLoaded};
  switch (input.policy) {
    case RoutingPolicy::kAffinity:
      if (input.affinity_key.has_value()) return by_affinity(input, *input.affinity_key, replicas);
      return by_prefix(input, replicas);
    case RoutingPolicy::kPrefix: return by_prefix(input, replicas);
    case RoutingPolicy::kLeastLoaded: return by_load(input, replicas);
    case RoutingPolicy::kRoundRobin: return by_round_robin(input, replicas);
  }
  return by_load(input, replicas);
}

}  // namespace tether::router
