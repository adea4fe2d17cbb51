#include "constrain/token_trie.h"

#include <algorithm>

namespace tether::constrain {

TokenTrie::TokenTrie(const std::vector<std::string>& pieces, std::vector<TokenId> ids) {
  std::sort(ids.begin(), ids.end(), [&](TokenId a, TokenId b) {
    return pieces[a] != pieces[b] ? pieces[a] < pieces[b] : a < b;
  });
  nodes_.reserve(ids.size() * 2 + 1);
  build(pieces, ids, 0, ids.size(), 0);
}

// Builds the node for the tokens sorted[lo, hi), which share their first
// `depth` bytes. Iterative over the children's byte groups, recursive in
// depth (bounded by the longest token text).
uint32_t TokenTrie::build(const std::vector<std::string>& pieces, const std::vector<TokenId>& sorted,
                          size_t lo, size_t hi, size_t depth) {
  depth_ = std::max(depth_, depth);
  const auto index = static_cast<uint32_t>(nodes_.size());
  nodes_.emplace_back();
  size_t i = lo;
  // Texts that end here sort first (a prefix sorts before its extensions).
  nodes_[index].first_token = static_cast<uint32_t>(tokens_.size());
  while (i < hi && pieces[sorted[i]].size() == depth) tokens_.push_back(sorted[i++]);
  nodes_[index].n_tokens = static_cast<uint32_t>(tokens_.size()) - nodes_[index].first_token;
  // Groups by the next byte; children are built after the edges are laid
  // out so that each node's edges stay contiguous.
  std::vector<std::pair<size_t, size_t>> groups;
  while (i < hi) {
    const char byte = pieces[sorted[i]][depth];
    size_t j = i + 1;
    while (j < hi && pieces[sorted[j]][depth] == byte) ++j;
    groups.emplace_back(i, j);
    i = j;
  }
  nodes_[index].first_edge = static_cast<uint32_t>(edges_.size());
  nodes_[index].n_edges = static_cast<uint32_t>(groups.size());
  edges_.resize(edges_.size() + groups.size());
  for (size_t g = 0; g < groups.size(); ++g) {
    const uint32_t child = build(pieces, sorted, groups[g].first, groups[g].second, depth + 1);
    Edge& edge = edges_[nodes_[index].first_edge + g];
    edge.byte = static_cast<uint8_t>(pieces[sorted[groups[g].first]][depth]);
    edge.child = child;
  }
  return index;
}

}  // namespace tether::constrain
