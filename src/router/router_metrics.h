#pragma once

#include <memory>
#include <string>

#include "metrics/registry.h"
#include "router/router.h"

namespace tether::router {

// Exports a model's routing at scrape time, read from the router's stats:
//   tether_router_decisions_total{model,reason}
//   tether_router_replica_in_flight{model,replica}
//   tether_router_replica_healthy{model,replica}
//   tether_router_replica_requests_total{model,replica}
//   tether_router_replica_cached_share{model,replica}  (cached / prompt tokens; 0 before any usage)
//   tether_router_upstream_errors_total{model,replica,kind}
// One call per model; the families are shared by all models of a registry
// (a model registered again replaces its router). The registry keeps the router alive.
void register_router_metrics(metrics::Registry& registry, std::string model, std::shared_ptr<const Router> router);

}  // namespace tether::router
