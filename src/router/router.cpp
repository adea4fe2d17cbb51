#include "router/router.h"

#include <algorithm>
#include <mutex>
#include <unordered_set>

#include "common/error.h"
#include "router/prefix_index.h"

namespace tether::router {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::string_view kRetry = "retry";

void check_unique(const std::vector<std::string>& replica_ids) {
  std::unordered_set<std::string_view> seen;
  for (const std::string& id : replica_ids) {
    if (!seen.insert(id).second) throw_error(ErrorCode::kInvalidArgument, "replica id '{}' is given twice", id);
  }
}

}  // namespace

// One replica's routing state. Guarded by the Core's mutex.
struct Router::Replica {
  Replica(std::string replica_id, const RouterOptions& options, Clock::time_point now)
      : id(std::move(replica_id)), index(options.prefix_index_capacity, options.prefix_ttl), last_change(now) {}

  bool healthy() const { return !ejected && !probed_down; }

  // Folds the time since the last change into the in-flight integral.
  void account(Clock::time_point now) {
    in_flight_seconds += static_cast<double>(in_flight) * std::chrono::duration<double>(now - last_change).count();
    last_change = now;
  }

  std::string id;
  bool ejected = false;      // passive: consecutive failures
  bool probed_down = false;  // active: the last health check failed
  int consecutive_failures = 0;
  int64_t in_flight = 0;
  uint64_t requests = 0;
  uint64_t prompt_tokens = 0;
  uint64_t cached_tokens = 0;
  uint64_t failures = 0;
  std::map<std::string, uint64_t> errors;
  double in_flight_seconds = 0;
  PrefixIndex index;
  Clock::time_point last_change;
};

class Router::Core {
 public:
  explicit Core(RouterOptions router_options) : options(std::move(router_options)) {
    for (RouteReason reason : {RouteReason::kAffinityHome, RouteReason::kAffinitySpill, RouteReason::kPrefix,
                               RouteReason::kLeastLoaded, RouteReason::kRoundRobin}) {
      decisions.emplace(route_reason_name(reason), 0);
    }
    decisions.emplace(kRetry, 0);
  }

  Replica* find(std::string_view id) {
    for (auto& replica : replicas) {
      if (replica->id == id) return replica.get();
    }
    return nullptr;
  }

  const RouterOptions options;  // immutable: read without the lock
  mutable std::mutex mutex;     // guards everything below and every Replica's fields
  std::vector<std::shared_ptr<Replica>> replicas;
  std::map<std::string, uint64_t> decisions;
  uint64_t next_ticket = 0;
};

Router::Router(RouterOptions options, std::vector<std::string> replica_ids)
    : core_(std::make_shared<Core>(std::move(options))) {
  set_replicas(std::move(replica_ids));
}

Router::~Router() = default;

const RouterOptions& Router::options() const { return core_->options; }

void Router::set_replicas(std::vector<std::string> replica_ids) {
  check_unique(replica_ids);
  const Clock::time_point now = Clock::now();
  std::lock_guard lock(core_->mutex);
  std::vector<std::shared_ptr<Replica>> replicas;
  replicas.reserve(replica_ids.size());
  for (std::string& id : replica_ids) {
    auto kept = std::find_if(core_->replicas.begin(), core_->replicas.end(),
                             [&](const auto& replica) { return replica->id == id; });
    if (kept != core_->replicas.end()) {
      replicas.push_back(*kept);
    } else {
      replicas.push_back(std::make_shared<Replica>(std::move(id), core_->options, now));
    }
  }
  core_->replicas = std::move(replicas);
}

std::vector<std::string> Router::replica_ids() const {
  std::lock_guard lock(core_->mutex);
  std::vector<std::string> ids;
  ids.reserve(core_->replicas.size());
  for (const auto& replica : core_->replicas) ids.push_back(replica->id);
  return ids;
}

Router::Plan Router::plan(std::optional<std::string_view> affinity_key, std::vector<uint64_t> chain) {
  const RouterOptions& options = core_->options;
  const bool by_key = options.policy == RoutingPolicy::kAffinity && affinity_key.has_value();
  const bool needs_match =
      options.policy == RoutingPolicy::kPrefix || (options.policy == RoutingPolicy::kAffinity && !by_key);
  const Clock::time_point now = Clock::now();

  Plan plan;
  std::lock_guard lock(core_->mutex);
  std::vector<Replica*> candidates;
  for (const auto& replica : core_->replicas) {
    if (replica->healthy()) candidates.push_back(replica.get());
  }
  if (candidates.empty()) {
    for (const auto& replica : core_->replicas) candidates.push_back(replica.get());
  }
  std::vector<ReplicaLoad> loads;
  loads.reserve(candidates.size());
  for (Replica* replica : candidates) {
    const size_t matched = needs_match && !chain.empty() ? replica->index.match(chain, now) : 0;
    loads.push_back(ReplicaLoad{replica->id, replica->in_flight, matched});
  }
  RouteInput input;
  input.policy = options.policy;
  input.affinity_key = affinity_key;
  input.load_bound = options.load_bound;
  input.prefix_load_weight = options.prefix_load_weight;
  input.ticket = core_->next_ticket++;
  RouteDecision decision = decide_route(input, loads);
  plan.order.reserve(decision.order.size());
  for (size_t idx : decision.order) plan.order.push_back(candidates[idx]->id);
  plan.reason = decision.reason;
  plan.chain = std::move(chain);
  return plan;
}

Router::Lease Router::start(const Plan& plan, size_t position_in_order) {
  if (position_in_order >= plan.order.size()) {
    throw_error(ErrorCode::kInvalidArgument, "position {} is past the plan's {} replicas", position_in_order,
                plan.order.size());
  }
  const std::string& id = plan.order[position_in_order];
  const Clock::time_point now = Clock::now();
  std::lock_guard lock(core_->mutex);
  auto it = std::find_if(core_->replicas.begin(), core_->replicas.end(),
                         [&](const auto& replica) { return replica->id == id; });
  if (it == core_->replicas.end()) throw_error(ErrorCode::kNotFound, "replica '{}' is no longer routed to", id);
  std::shared_ptr<Replica> replica = *it;
  replica->account(now);
  ++replica->in_flight;
  ++replica->requests;
  ++core_->decisions[std::string(position_in_order == 0 ? route_reason_name(plan.reason) : kRetry)];
  if (!plan.chain.empty()) replica->index.insert(plan.chain, now);
  return Lease(core_, std::move(replica));
}

void Router::report_failure(const std::string& replica_id, std::string_view kind) {
  std::lock_guard lock(core_->mutex);
  Replica* replica = core_->find(replica_id);
  if (replica == nullptr) return;
  ++replica->failures;
  ++replica->errors[std::string(kind)];
  ++replica->consecutive_failures;
  const int eject_after = core_->options.eject_after_failures;
  if (eject_after > 0 && replica->consecutive_failures >= eject_after) replica->ejected = true;
}

void Router::report_success(const std::string& replica_id) {
  std::lock_guard lock(core_->mutex);
  Replica* replica = core_->find(replica_id);
  if (replica == nullptr) return;
  replica->consecutive_failures = 0;
  replica->ejected = false;
}

void Router::set_healthy(const std::string& replica_id, bool healthy) {
  std::lock_guard lock(core_->mutex);
  Replica* replica = core_->find(replica_id);
  if (replica == nullptr) return;
  replica->probed_down = !healthy;
  if (healthy) {
    replica->ejected = false;
    replica->consecutive_failures = 0;
  }
}

std::vector<ReplicaStats> Router::stats() const {
  const Clock::time_point now = Clock::now();
  std::lock_guard lock(core_->mutex);
  std::vector<ReplicaStats> all;
  all.reserve(core_->replicas.size());
  for (const auto& replica : core_->replicas) {
    ReplicaStats stats;
    stats.id = replica->id;
    stats.healthy = replica->healthy();
    stats.in_flight = replica->in_flight;
    stats.requests = replica->requests;
    stats.prompt_tokens = replica->prompt_tokens;
    stats.cached_tokens = replica->cached_tokens;
    stats.failures = replica->failures;
    stats.errors = replica->errors;
    stats.in_flight_seconds = replica->in_flight_seconds + static_cast<double>(replica->in_flight) *
                                                               std::chrono::duration<double>(now - replica->last_change).count();
    all.push_back(std::move(stats));
  }
  return all;
}

std::map<std::string, uint64_t> Router::decisions() const {
  std::lock_guard lock(core_->mutex);
  return core_->decisions;
}

Router::Lease::Lease() = default;

Router::Lease::Lease(std::shared_ptr<Core> core, std::shared_ptr<Replica> replica)
    : core_(std::move(core)), replica_(std::move(replica)), replica_id_(replica_->id) {}

Router::Lease::Lease(Lease&& other) noexcept
    : core_(std::move(other.core_)), replica_(std::move(other.replica_)), replica_id_(std::move(other.replica_id_)) {}

Router::Lease& Router::Lease::operator=(Lease&& other) noexcept {
  if (this != &other) {
    finish(std::nullopt, std::nullopt);
    core_ = std::move(other.core_);
    replica_ = std::move(other.replica_);
    replica_id_ = std::move(other.replica_id_);
  }
  return *this;
}

Router::Lease::~Lease() { finish(std::nullopt, std::nullopt); }

void Router::Lease::finish(std::optional<int64_t> prompt_tokens, std::optional<int64_t> cached_tokens) {
  if (!replica_) return;
  const Clock::time_point now = Clock::now();
  {
    std::lock_guard lock(core_->mutex);
    replica_->account(now);
    --replica_->in_flight;
    // Usage counts only with its prompt size, so cached / prompt stays a share.
    if (prompt_tokens.has_value() && *prompt_tokens >= 0) {
      const int64_t cached = std::clamp<int64_t>(cached_tokens.value_or(0), 0, *prompt_tokens);
      replica_->prompt_tokens += static_cast<uint64_t>(*prompt_tokens);
      replica_->cached_tokens += static_cast<uint64_t>(cached);
    }
  }
  replica_.reset();
}

bool Router::Lease::active() const { return replica_ != nullptr; }

const std::string& Router::Lease::replica_id() const { return replica_id_; }

}  // namespace tether::router
