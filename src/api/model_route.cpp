#include "api/model_route.h"

#include <algorithm>
#include <chrono>
#include <set>

#include "common/error.h"

namespace tether::api {

bool ModelRoute::answers_to(std::string_view name) const {
  return name == id || std::find(aliases.begin(), aliases.end(), name) != aliases.end();
}

std::optional<size_t> ModelRoute::local_index(std::string_view replica_id) const {
  if (!local) return std::nullopt;
  for (size_t i = 0; i < local->engines.size(); ++i) {
    if (replica_id == local_replica_id(i)) return i;
  }
  return std::nullopt;
}

std::shared_ptr<router::Upstream> ModelRoute::upstream(std::string_view replica_id) const {
  for (const auto& candidate : upstreams) {
    if (candidate->id() == replica_id) return candidate;
  }
  return nullptr;
}

std::shared_ptr<ModelRoute> make_model_route(std::shared_ptr<ServedModel> local,
                                             std::vector<std::shared_ptr<router::Upstream>> upstreams,
                                             const router::RouterOptions& options,
                                             router::AffinitySources affinity_sources, std::string id,
                                             std::vector<std::string> aliases) {
  auto route = std::make_shared<ModelRoute>();
  std::vector<std::string> ids;
  if (local) {
    route->id = local->id;
    route->aliases = local->aliases;
    route->created = local->created;
    for (size_t i = 0; i < local->engines.size(); ++i) ids.push_back(local_replica_id(i));
  } else {
    route->id = std::move(id);
    route->aliases = std::move(aliases);
    route->created = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
  }
  for (const auto& upstream : upstreams) ids.push_back(upstream->id());
  if (ids.empty()) throw_error(ErrorCode::kInvalidArgument, "model '{}' has no replica to run on", route->id);
  if (std::set<std::string>(ids.begin(), ids.end()).size() != ids.size()) {
    throw_error(ErrorCode::kInvalidArgument, "model '{}': two replicas share an id", route->id);
  }
  route->local = std::move(local);
  route->upstreams = std::move(upstreams);
  route->router = std::make_shared<router::Router>(options, std::move(ids));
  route->affinity_sources = affinity_sources;
  return route;
}

}  // namespace tether::api
