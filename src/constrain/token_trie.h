#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/tokenizer/token_id.h"

namespace tether::constrain {

using tokenizer::TokenId;

// The byte strings of a set of tokens as a trie in flat arrays, so that a
// matcher can try every token of a vocabulary in one walk, sharing the work
// on common prefixes and skipping whole subtrees its state rules out.
class TokenTrie {
 public:
  struct Node {
    uint32_t first_edge = 0;   // into edges()
    uint32_t n_edges = 0;
    uint32_t first_token = 0;  // into tokens(): the tokens whose text ends here
    uint32_t n_tokens = 0;
  };
  struct Edge {
    uint8_t byte = 0;
    uint32_t child = 0;
  };

  TokenTrie() : nodes_(1) {}
  // The tokens `ids` with texts pieces[id] (all non-empty).
  TokenTrie(const std::vector<std::string>& pieces, std::vector<TokenId> ids);

  const Node& root() const { return nodes_[0]; }
  const Node& node(uint32_t index) const { return nodes_[index]; }
  const Edge* edges(const Node& node) const { return edges_.data() + node.first_edge; }
  const TokenId* tokens(const Node& node) const { return tokens_.data() + node.first_token; }
  size_t n_nodes() const { return nodes_.size(); }
  size_t n_tokens() const { return tokens_.size(); }
  // The longest token text (the deepest path).
  size_t depth() const { return depth_; }

 private:
  uint32_t build(const std::vector<std::string>& pieces, const std::vector<TokenId>& sorted, size_t lo,
                 size_t hi, size_t depth);

  std::vector<Node> nodes_;
  std::vector<Edge> edges_;
  std::vector<TokenId> tokens_;
  size_t depth_ = 0;
};

}  // namespace tether::constrain
