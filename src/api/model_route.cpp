#include "api/model_route.h"

#include <algorithm>

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

std::shared_ptr<ModelRoute> make_model_route(std::shared_ptr<ServedModel> local,
                                             const router::RouterOptions& options,
                                             router::AffinitySources affinity_sources) {
  if (!local) throw_error(ErrorCode::kInvalidArgument, "a model route needs a model");
  auto route = std::make_shared<ModelRoute>();
  route->id = local->id;
  route->aliases = local->aliases;
  route->created = local->created;
  std::vector<std::string> ids;
  for (size_t i = 0; i < local->engines.size(); ++i) ids.push_back(local_replica_id(i));
  route->local = std::move(local);
  route->router = std::make_shared<router::Router>(options, std::move(ids));
  route->affinity_sources = affinity_sources;
  return route;
}

}  // namespace tether::api
