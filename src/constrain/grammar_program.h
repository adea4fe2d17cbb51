#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "constrain/grammar.h"

namespace tether::constrain {

// A grammar's DAG flattened into arrays indexed by node number, the form
// the matcher walks.
class GrammarProgram {
 public:
  using Kind = GrammarNode::Kind;
  struct Node {
    Kind kind = Kind::kLiteral;
    uint32_t first = 0;  // literal: offset into text(); others: into children()
    uint32_t count = 0;  // literal: length; sequence/choice: children
    int32_t min = 0;
    int32_t max = 0;
    uint32_t byte_class = 0;  // into byte_classes()
  };

  explicit GrammarProgram(const Grammar& grammar);

  uint32_t root() const { return root_; }
  const Node& node(uint32_t index) const { return nodes_[index]; }
  uint32_t child(const Node& node, uint32_t i) const { return children_[node.first + i]; }
  uint8_t literal_byte(const Node& node, int32_t offset) const {
    return static_cast<uint8_t>(text_[node.first + static_cast<uint32_t>(offset)]);
  }
  bool in_class(const Node& node, uint8_t byte) const {
    return (byte_classes_[node.byte_class][byte >> 6] >> (byte & 63)) & 1;
  }
  size_t size() const { return nodes_.size(); }
  // The deepest nesting of nodes (bounds a matcher's stack).
  uint32_t depth() const { return depth_; }
  // The fewest bytes node `index` matches (saturating at kFar).
  int32_t min_bytes(uint32_t index) const { return min_bytes_[index]; }
  // The most min_bytes() of anything a match may enter midway (a choice's
  // alternative, a repeat's item): how far one step can push the end away.
  int32_t max_entry() const { return max_entry_; }
  static constexpr int32_t kFar = 1 << 28;

 private:
  void compute_min_bytes();

  std::vector<Node> nodes_;
  std::vector<uint32_t> children_;
  std::string text_;
  std::vector<std::array<uint64_t, 4>> byte_classes_;
  std::vector<int32_t> min_bytes_;
  uint32_t root_ = 0;
  uint32_t depth_ = 0;
  int32_t max_entry_ = 0;
};

}  // namespace tether::constrain
