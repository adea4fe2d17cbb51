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

namespace tether::api {

// One model name clients can ask for and where its requests may run: its
// local engine replicas (router ids "local-0", "local-1", ...), with the
// router that picks one per request.
struct ModelRoute {
  std::string id;
  std::vector<std::string> aliases;
  int64_t created = 0;
  std::shared_ptr<ServedModel> local;
  std::shared_ptr<router::Router> router;
  router::AffinitySources affinity_sources;  // when x-session-affinity is absent

  bool answers_to(std::string_view name) const;
  // The local replica a router id names, if it names one.
  std::optional<size_t> local_index(std::string_view replica_id) const;
};

// A route over `local`'s replicas, named after it. Throws
// Error(kInvalidArgument) for a null model.
std::shared_ptr<ModelRoute> make_model_route(std::shared_ptr<ServedModel> local,
                                             const router::RouterOptions& options,
                                             router::AffinitySources affinity_sources = {});

}  // namespace tether::api
