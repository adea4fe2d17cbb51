#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace tether::router {

// Highest-random-weight (rendezvous) hashing: every (key, replica) pair gets a
// pseudo-random score and a key's replicas are ranked by it. Adding a replica
// moves only the keys for which the newcomer scores highest (about 1/N of
// them); removing one moves only the keys whose first choice it was. Scores are
// XXH3 over fixed bytes, so every gateway ranks a key's replicas alike.
uint64_t rendezvous_score(std::string_view key, std::string_view replica_id);

// Indices into `replica_ids`, highest score first; equal scores by id, then by index.
std::vector<size_t> rendezvous_order(std::string_view key, std::span<const std::string> replica_ids);
std::vector<size_t> rendezvous_order(std::string_view key, std::span<const std::string_view> replica_ids);

}  // namespace tether::router
