#include "constrain/grammar_program.h"

#include <algorithm>
#include <unordered_map>

#include "common/error.h"

namespace tether::constrain {

GrammarProgram::GrammarProgram(const Grammar& grammar) {
  if (grammar.dead()) throw_error(ErrorCode::kInvalidArgument, "grammar: matches nothing");
  // Post-order over the DAG, each shared node once; explicit stack, since
  // an untrusted schema must not be able to exhaust the call stack.
  std::unordered_map<const GrammarNode*, uint32_t> index;
  std::unordered_map<const GrammarNode*, uint32_t> depth;
  std::unordered_map<const GrammarNode*, bool> nullable;
  struct Item {
    const GrammarNode* node;
    bool expanded;
  };
  std::vector<Item> todo{{grammar.node().get(), false}};
  while (!todo.empty()) {
    const Item item = todo.back();
    todo.pop_back();
    if (index.contains(item.node)) continue;
    if (!item.expanded) {
      todo.push_back({item.node, true});
      for (const auto& child : item.node->children) {
        if (!index.contains(child.get())) todo.push_back({child.get(), false});
      }
      continue;
    }
    const GrammarNode& source = *item.node;
    // Nodes may be put together by hand: what the matcher relies on is
    // checked here rather than trusted from the flags.
    bool node_nullable = false;
    switch (source.kind) {
      case Kind::kLiteral:
        node_nullable = source.text.empty();
        break;
      case Kind::kByteClass:
      case Kind::kJsonString:
        break;
      case Kind::kSequence:
        node_nullable = true;
        for (const auto& child : source.children) node_nullable = node_nullable && nullable.at(child.get());
        break;
      case Kind::kChoice:
        if (source.children.empty()) throw_error(ErrorCode::kInvalidArgument, "grammar: a choice of nothing");
        for (const auto& child : source.children) node_nullable = node_nullable || nullable.at(child.get());
        break;
      case Kind::kRepeat:
        if (source.children.size() != 1 || nullable.at(source.children[0].get())) {
          throw_error(ErrorCode::kInvalidArgument, "grammar: a repeat needs one item that is never empty");
        }
        if (source.min < 0 || (source.max >= 0 && source.max < source.min) || source.max < kUnbounded) {
          throw_error(ErrorCode::kInvalidArgument, "grammar: repeat bounds {}..{} are invalid", source.min,
                      source.max);
        }
        node_nullable = source.min == 0;
        break;
    }
    if (source.kind == Kind::kJsonString &&
        (source.min < 0 || source.max < kUnbounded || (source.max >= 0 && source.max < source.min))) {
      throw_error(ErrorCode::kInvalidArgument, "grammar: string length bounds {}..{} are invalid", source.min,
                  source.max);
    }
    nullable.emplace(item.node, node_nullable);
    Node node;
    node.kind = source.kind;
    node.min = source.min;
    node.max = source.max;
    uint32_t node_depth = 1;
    switch (source.kind) {
      case Kind::kLiteral:
        node.first = static_cast<uint32_t>(text_.size());
        node.count = static_cast<uint32_t>(source.text.size());
        text_ += source.text;
        break;
      case Kind::kByteClass:
        node.byte_class = static_cast<uint32_t>(byte_classes_.size());
        byte_classes_.push_back(source.bytes);
        break;
      case Kind::kSequence:
      case Kind::kChoice:
      case Kind::kRepeat:
        node.first = static_cast<uint32_t>(children_.size());
        node.count = static_cast<uint32_t>(source.children.size());
        for (const auto& child : source.children) {
          children_.push_back(index.at(child.get()));
          node_depth = std::max(node_depth, depth.at(child.get()) + 1);
        }
        break;
      case Kind::kJsonString:
        break;
    }
    index.emplace(item.node, static_cast<uint32_t>(nodes_.size()));
    depth.emplace(item.node, node_depth);
    nodes_.push_back(node);
  }
  root_ = index.at(grammar.node().get());
  depth_ = depth.at(grammar.node().get());
  compute_min_bytes();
}

void GrammarProgram::compute_min_bytes() {
  // Children come before their parents (post-order), so one pass suffices.
  const auto add = [](int64_t a, int64_t b) { return std::min<int64_t>(a + b, kFar); };
  min_bytes_.assign(nodes_.size(), 0);
  for (size_t i = 0; i < nodes_.size(); ++i) {
    const Node& node = nodes_[i];
    int64_t bytes = 0;
    switch (node.kind) {
      case Kind::kLiteral:
        bytes = node.count;
        break;
      case Kind::kByteClass:
        bytes = 1;
        break;
      case Kind::kJsonString:
        bytes = add(2, node.min);  // quotes and min one-byte characters
        break;
      case Kind::kSequence:
        for (uint32_t c = 0; c < node.count; ++c) bytes = add(bytes, min_bytes_[child(node, c)]);
        break;
      case Kind::kChoice:
        bytes = kFar;
        for (uint32_t c = 0; c < node.count; ++c) {
          bytes = std::min<int64_t>(bytes, min_bytes_[child(node, c)]);
          max_entry_ = std::max(max_entry_, min_bytes_[child(node, c)]);
        }
        break;
      case Kind::kRepeat: {
        const int64_t item = min_bytes_[child(node, 0)];
        bytes = std::min<int64_t>(item * node.min, kFar);
        max_entry_ = std::max(max_entry_, static_cast<int32_t>(item));
        break;
      }
    }
    min_bytes_[i] = static_cast<int32_t>(bytes);
  }
}

}  // namespace tether::constrain
