#include "router/rendezvous.h"

#include <xxhash.h>

#include <algorithm>
#include <numeric>

namespace tether::router {
namespace {

// The replica id is hashed into the seed of the key's hash, so one pair never
// collides with another pair whose strings merely concatenate alike.
constexpr uint64_t kReplicaSeed = 0x7265706c696361ull;  // "replica"

template <class Id>
std::vector<size_t> order_by_score(std::string_view key, std::span<const Id> replica_ids) {
  std::vector<uint64_t> scores(replica_ids.size());
  for (size_t replica_idx = 0; replica_idx < replica_ids.size(); ++replica_idx) {
    scores[replica_idx] = rendezvous_score(key, replica_ids[replica_idx]);
  }
  std::vector<size_t> order(replica_ids.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (scores[a] != scores[b]) return scores[a] > scores[b];
    const std::string_view id_a = replica_ids[a];
    const std::string_view id_b = replica_ids[b];
    if (id_a != id_b) return id_a < id_b;
    return a < b;
  });
  return order;
}

}  // namespace

uint64_t rendezvous_score(std::string_view key, std::string_view replica_id) {
  const uint64_t replica_seed = XXH3_64bits_withSeed(replica_id.data(), replica_id.size(), kReplicaSeed);
  return XXH3_64bits_withSeed(key.data(), key.size(), replica_seed);
}

std::vector<size_t> rendezvous_order(std::string_view key, std::span<const std::string> replica_ids) {
  return order_by_score(key, replica_ids);
}

std::vector<size_t> rendezvous_order(std::string_view key, std::span<const std::string_view> replica_ids) {
  return order_by_score(key, replica_ids);
}

}  // namespace tether::router
