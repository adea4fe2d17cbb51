#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "router/routing_policy.h"

namespace tether::router {

struct RouterOptions {
  RoutingPolicy policy = RoutingPolicy::kAffinity;
  double load_bound = 1.25;
  double prefix_load_weight = 8.0;
  size_t chunk_bytes = 256;
  size_t prefix_index_capacity = 65536;  // chunk hashes per replica
  std::chrono::milliseconds prefix_ttl{600'000};
  int eject_after_failures = 3;  // consecutive failures -> unhealthy (passive ejection); <= 0: never
};

struct ReplicaStats {
  std::string id;
  bool healthy = true;
  int64_t in_flight = 0;
  uint64_t requests = 0;  // leases started
  uint64_t prompt_tokens = 0, cached_tokens = 0;  // from finished leases that reported usage
  uint64_t failures = 0;                          // report_failure calls
  std::map<std::string, uint64_t> errors;         // by kind ("connect", "timeout", "status", "protocol", "full", ...)
  double in_flight_seconds = 0;  // integral of in_flight over time (time-averaged load = this / elapsed)
};

// Routes one served model's requests over its replicas (local engine replicas
// and upstreams, by id) and keeps what routing needs: in-flight counts, each
// replica's prefix index, health (passive ejection and active checks) and
// stats. Thread-safe: one mutex, held only for bookkeeping, never across I/O.
class Router {
  class Core;
  struct Replica;

 public:
  // Error(kInvalidArgument) when an id repeats.
  Router(RouterOptions options, std::vector<std::string> replica_ids);
  ~Router();
  Router(const Router&) = delete;
  Router& operator=(const Router&) = delete;

  const RouterOptions& options() const;

  // Ids kept keep their state (load, index, health, stats); new ones start
  // healthy; removed ones are forgotten (their open leases still finish
  // cleanly). Error(kInvalidArgument) when an id repeats.
  void set_replicas(std::vector<std::string> replica_ids);
  std::vector<std::string> replica_ids() const;

  struct Plan {
    std::vector<std::string> order;  // replica ids: first choice, then retry order
    RouteReason reason = RouteReason::kLeastLoaded;
    std::vector<uint64_t> chain;  // the request's prefix chunk hashes
  };

  // Decides over the healthy replicas (over all of them when none is healthy:
  // better to try than to refuse). `chain` = prefix_chunk_hashes(
  // routing_text(body), options().chunk_bytes), may be empty. An empty order
  // only when there are no replicas.
  Plan plan(std::optional<std::string_view> affinity_key, std::vector<uint64_t> chain);

  // A request running on one replica: counts in its in_flight from start()
  // until finish() or destruction. Movable, not copyable; it may outlive the
  // Router and the replica's removal.
  class Lease {
   public:
    Lease();
    Lease(Lease&& other) noexcept;
    Lease& operator=(Lease&& other) noexcept;
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease();

    // Ends the request; usage (when the replica reported it) feeds the
    // replica's prompt/cached token counts. Only the first call counts.
    void finish(std::optional<int64_t> prompt_tokens, std::optional<int64_t> cached_tokens);

    bool active() const;
    const std::string& replica_id() const;  // "" for an empty lease

   private:
    friend class Router;
    Lease(std::shared_ptr<Core> core, std::shared_ptr<Replica> replica);

    std::shared_ptr<Core> core_;
    std::shared_ptr<Replica> replica_;  // null once finished
    std::string replica_id_;
  };

  // Starts the request on plan.order[position_in_order]: in_flight + 1, one
  // decision counted (the plan's reason at position 0, "retry" after), and the
  // plan's chain recorded in that replica's prefix index.
  // Error(kInvalidArgument) for a position past the order, Error(kNotFound)
  // for a replica removed since the plan.
  Lease start(const Plan& plan, size_t position_in_order);

  // Ids not in the set (removed meanwhile) are ignored by these three.
  // A failed request (kind: "connect", "timeout", "status", "protocol",
  // "full", ...). After eject_after_failures consecutive ones the replica is
  // ejected (unhealthy) until report_success or set_healthy(true).
  void report_failure(const std::string& replica_id, std::string_view kind);
  // Resets the consecutive failure count and lifts a passive ejection.
  void report_success(const std::string& replica_id);
  // An active health check's verdict. false keeps the replica out until a
  // later set_healthy(true), which also lifts a passive ejection.
  void set_healthy(const std::string& replica_id, bool healthy);

  std::vector<ReplicaStats> stats() const;
  // Leases started by reason name (every reason, zeros included), plus "retry".
  std::map<std::string, uint64_t> decisions() const;

 private:
  std::shared_ptr<Core> core_;
};

}  // namespace tether::router
