#include "router/router_metrics.h"

#include <map>
#include <mutex>
#include <utility>
#include <vector>

namespace tether::router {
namespace {

using Sample = metrics::Registry::Sample;

// The routers of one registry's models. A registry takes each callback name
// once, so the first model's call registers the families over this set and
// later models join it.
class RouterSet {
 public:
  void put(std::string model, std::shared_ptr<const Router> router) {
    std::lock_guard lock(mutex_);
    routers_[std::move(model)] = std::move(router);
  }

  // Samples of every model, in model order; `read` appends one model's.
  template <class Read>
  std::vector<Sample> collect(Read read) const {
    std::map<std::string, std::shared_ptr<const Router>> routers;
    {
      std::lock_guard lock(mutex_);
      routers = routers_;
    }
    std::vector<Sample> samples;
    for (const auto& [model, router] : routers) read(model, *router, samples);
    return samples;
  }

 private:
  mutable std::mutex mutex_;  // guards routers_
  std::map<std::string, std::shared_ptr<const Router>> routers_;
};

// Registries this process has given router families, by address. The
// callbacks own their set, so a weak entry expires with its registry (and a
// new registry at the same address registers afresh).
std::mutex sets_mutex;  // guards sets
std::map<const metrics::Registry*, std::weak_ptr<RouterSet>> sets;

void register_families(metrics::Registry& registry, const std::shared_ptr<RouterSet>& set) {
  registry.callback("tether_router_decisions_total", "Requests started on a replica, by routing reason", "counter",
                    {"model", "reason"}, [set] {
                      return set->collect([](const std::string& model, const Router& router, auto& samples) {
                        for (const auto& [reason, count] : router.decisions()) {
                          samples.push_back(Sample{{model, reason}, static_cast<double>(count)});
                        }
                      });
                    });
  registry.callback("tether_router_replica_in_flight", "Requests in flight on a replica", "gauge",
                    {"model", "replica"}, [set] {
                      return set->collect([](const std::string& model, const Router& router, auto& samples) {
                        for (const ReplicaStats& stats : router.stats()) {
                          samples.push_back(Sample{{model, stats.id}, static_cast<double>(stats.in_flight)});
                        }
                      });
                    });
  registry.callback("tether_router_replica_healthy", "1 while a replica is routed to, 0 while it is ejected or down",
                    "gauge", {"model", "replica"}, [set] {
                      return set->collect([](const std::string& model, const Router& router, auto& samples) {
                        for (const ReplicaStats& stats : router.stats()) {
                          samples.push_back(Sample{{model, stats.id}, stats.healthy ? 1.0 : 0.0});
                        }
                      });
                    });
  registry.callback("tether_router_replica_requests_total", "Requests started on a replica", "counter",
                    {"model", "replica"}, [set] {
                      return set->collect([](const std::string& model, const Router& router, auto& samples) {
                        for (const ReplicaStats& stats : router.stats()) {
                          samples.push_back(Sample{{model, stats.id}, static_cast<double>(stats.requests)});
                        }
                      });
                    });
  registry.callback("tether_router_replica_cached_share", "Cached share of a replica's prompt tokens", "gauge",
                    {"model", "replica"}, [set] {
                      return set->collect([](const std::string& model, const Router& router, auto& samples) {
                        for (const ReplicaStats& stats : router.stats()) {
                          const double share = stats.prompt_tokens == 0
                                                   ? 0.0
                                                   : static_cast<double>(stats.cached_tokens) /
                                                         static_cast<double>(stats.prompt_tokens);
                          samples.push_back(Sample{{model, stats.id}, share});
                        }
                      });
                    });
  registry.callback("tether_router_upstream_errors_total", "Failed requests on a replica, by kind", "counter",
                    {"model", "replica", "kind"}, [set] {
                      return set->collect([](const std::string& model, const Router& router, auto& samples) {
                        for (const ReplicaStats& stats : router.stats()) {
                          for (const auto& [kind, count] : stats.errors) {
                            samples.push_back(Sample{{model, stats.id, kind}, static_cast<double>(count)});
                          }
                        }
                      });
                    });
}

}  // namespace

void register_router_metrics(metrics::Registry& registry, std::string model, std::shared_ptr<const Router> router) {
  std::lock_guard lock(sets_mutex);
  std::erase_if(sets, [](const auto& entry) { return entry.second.expired(); });
  std::shared_ptr<RouterSet> set = sets[&registry].lock();
  if (!set) {
    set = std::make_shared<RouterSet>();
    register_families(registry, set);
    sets[&registry] = set;
  }
  set->put(std::move(model), std::move(router));
}

}  // namespace tether::router
