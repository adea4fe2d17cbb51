#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

namespace tether::router {

// Chained 64-bit hashes of the whole `chunk_bytes` chunks of `text`: hash i
// covers chunk i and hash i-1, so equal hashes mean equal whole prefixes. A
// last partial chunk is left out (the next turn may still extend it).
// chunk_bytes == 0 gives no hashes.
std::vector<uint64_t> prefix_chunk_hashes(std::string_view text, size_t chunk_bytes);

// What a request's prefix is routed by: the tools (serialized), then each
// message of "messages" serialized in order, or else the "prompt" string. The
// next turn of a conversation (the same messages with new ones appended) has
// this turn's text as its prefix. Missing or odd fields are skipped, never an
// error.
std::string routing_text(const boost::json::object& body);

// Which body fields may stand in for a missing x-session-affinity header.
struct AffinitySources {
  bool prompt_cache_key = true;
  bool user = false;
};

// The x-session-affinity header value if non-empty, else the body's
// "prompt_cache_key", then "user" (non-empty strings) where enabled.
std::optional<std::string> affinity_key(std::optional<std::string_view> header, const boost::json::object& body,
                                        const AffinitySources& sources);

}  // namespace tether::router
