#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace tether::router {

// How a model's requests pick a replica.
enum class RoutingPolicy { kAffinity, kPrefix, kLeastLoaded, kRoundRobin };

// "affinity", "prefix", "least-loaded", "round-robin".
std::string_view routing_policy_name(RoutingPolicy policy);
std::optional<RoutingPolicy> parse_routing_policy(std::string_view name);

// Why a replica came first.
enum class RouteReason { kAffinityHome, kAffinitySpill, kPrefix, kLeastLoaded, kRoundRobin };

// "affinity_home", "affinity_spill", "prefix", "load", "round_robin".
std::string_view route_reason_name(RouteReason reason);

// One candidate replica as the decision sees it.
struct ReplicaLoad {
  std::string_view id;
  int64_t in_flight = 0;
  size_t matched_chunks = 0;  // leading prefix chunks its index holds
};

struct RouteInput {
  RoutingPolicy policy = RoutingPolicy::kAffinity;
  std::optional<std::string_view> affinity_key;
  double load_bound = 1.25;         // c: a home above c x the mean load spills
  double prefix_load_weight = 8.0;  // matched chunks one in-flight request is worth (prefix scoring)
  uint64_t ticket = 0;              // round-robin position, and rotation among ties
};

// Indices into the replicas: the first choice, then the rest in retry order;
// every replica appears exactly once.
struct RouteDecision {
  std::vector<size_t> order;
  RouteReason reason = RouteReason::kLeastLoaded;
};

// The pure routing decision over the given (healthy) replicas; it depends only
// on the key, the replicas' ids and loads, and the ticket (for ties and round
// robin), so every gateway decides alike. No replicas -> an empty order.
//  - affinity with a key: the key's rendezvous order, where a replica accepts
//    when in_flight + 1 <= max(1, c * (total + 1) / N); the first accepting one
//    wins (affinity_home if it is the key's first, else affinity_spill); if none
//    accepts, the least loaded (earliest in the key's order among equals),
//    affinity_spill. The rest follow in the key's order.
//  - prefix, and affinity without a key: score = matched_chunks -
//    prefix_load_weight * in_flight, highest first; ties to the fewer in
//    flight, then rotated by ticket. Reason prefix when the winner matched
//    anything, else load.
//  - least-loaded: fewest in flight first, ties rotated by ticket; load.
//  - round-robin: from ticket % N on, in the given order; round_robin.
RouteDecision decide_route(const RouteInput& input, std::span<const ReplicaLoad> replicas);

}  // namespace tether::router
