#include "router/routing_key.h"

#include <xxhash.h>

#include <boost/json/serialize.hpp>

namespace tether::router {
namespace {

// The parent of a text's first chunk ("tether-p" in ASCII; any fixed value works).
constexpr uint64_t kRootChunkHash = 0x7465746865722d70ull;

// Field tags keep a tools array from ever reading like a message or a prompt.
constexpr std::string_view kToolsTag = "T:";
constexpr std::string_view kMessageTag = "M:";
constexpr std::string_view kPromptTag = "P:";

std::optional<std::string> non_empty_string(const boost::json::object& body, std::string_view field) {
  const boost::json::value* value = body.if_contains(field);
  if (value == nullptr || !value->is_string() || value->get_string().empty()) return std::nullopt;
  return std::string(value->get_string());
}

}  // namespace

std::vector<uint64_t> prefix_chunk_hashes(std::string_view text, size_t chunk_bytes) {
  std::vector<uint64_t> hashes;
  if (chunk_bytes == 0) return hashes;
  const size_t n_chunks = text.size() / chunk_bytes;
  hashes.reserve(n_chunks);
  uint64_t parent = kRootChunkHash;
  for (size_t chunk_idx = 0; chunk_idx < n_chunks; ++chunk_idx) {
    // The parent is the seed: the chain needs no buffer to join the two.
    parent = XXH3_64bits_withSeed(text.data() + chunk_idx * chunk_bytes, chunk_bytes, parent);
    hashes.push_back(parent);
  }
  return hashes;
}

std::string routing_text(const boost::json::object& body) {
  std::string text;
  if (const boost::json::value* tools = body.if_contains("tools"); tools != nullptr && !tools->is_null()) {
    text += kToolsTag;
    text += boost::json::serialize(*tools);
    text += '\n';
  }
  const boost::json::value* messages = body.if_contains("messages");
  if (messages != nullptr && messages->is_array()) {
    // Each message is closed by its own newline, so appending messages only appends text.
    for (const boost::json::value& message : messages->get_array()) {
      if (!message.is_object()) continue;
      text += kMessageTag;
      text += boost::json::serialize(message);
      text += '\n';
    }
    return text;
  }
  const boost::json::value* prompt = body.if_contains("prompt");
  if (prompt != nullptr && prompt->is_string()) {
    text += kPromptTag;
    text += std::string_view(prompt->get_string());
  }
  return text;
}

std::optional<std::string> affinity_key(std::optional<std::string_view> header, const boost::json::object& body,
                                        const AffinitySources& sources) {
  if (header.has_value() && !header->empty()) return std::string(*header);
  if (sources.prompt_cache_key) {
    if (auto key = non_empty_string(body, "prompt_cache_key")) return key;
  }
  if (sources.user) {
    if (auto key = non_empty_string(body, "user")) return key;
  }
  return std::nullopt;
}

}  // namespace tether::router
