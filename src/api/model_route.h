#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/served_model.h"
#include "router/router.h"
#include "router/routing_key.h"
#include "router/upstream.h"

namespace tether::api {

// One model name clients can ask for and where its requests may run: local
// engine replicas (router ids "local-0", "local-1", ...) and remote
// upstreams (their own ids), with the router that picks one per request.
struct ModelRoute {
  std::string id;
  std::vector<std::string> aliases;
  int64_t created = 0;
  std::shared_ptr<ServedModel> local;  // null: upstreams only
  std::vector<std::shared_ptr<router::Upstream>> upstreams;
  std::shared_ptr<router::Router> router;
  router::AffinitySources affinity_sources;  // when x-session-affinity is absent

  bool answers_to(std::string_view name) const;
  // The local replica a router id names, if it names one.
  std::optional<size_t> local_index(std::string_view replica_id) const;
  // The upstream a router id names, or null.
  std::shared_ptr<router::Upstream> upstream(std::string_view replica_id) const;
};

// A route over `local`'s replicas (may be null) and `upstreams`, named after
// `local` or, without one, `id`. Throws Error(kInvalidArgument) for a route
// with no replica or two replicas of one id.
std::shared_ptr<ModelRoute> make_model_route(std::shared_ptr<ServedModel> local,
                                             std::vector<std::shared_ptr<router::Upstream>> upstreams,
                                             const router::RouterOptions& options,
                                             router::AffinitySources affinity_sources = {}, std::string id = {},
                                             std::vector<std::string> aliases = {});

}  // namespace tether::api
