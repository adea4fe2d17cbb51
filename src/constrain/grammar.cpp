#include "constrain/grammar.h"

#include <algorithm>
#include <utility>

#include "common/error.h"

namespace tether::constrain {
namespace {

using NodePtr = std::shared_ptr<const GrammarNode>;

NodePtr make_literal(std::string text) {
  auto node = std::make_shared<GrammarNode>();
  node->kind = GrammarNode::Kind::kLiteral;
  node->nullable = text.empty();
  node->text = std::move(text);
  return node;
}

NodePtr make_dead() {
  auto node = std::make_shared<GrammarNode>();
  node->kind = GrammarNode::Kind::kChoice;
  node->nullable = false;
  node->dead = true;
  return node;
}

bool is_empty_literal(const GrammarNode& node) {
  return node.kind == GrammarNode::Kind::kLiteral && node.text.empty();
}

}  // namespace

Grammar::Grammar() : node_(make_literal("")) {}

Grammar::Grammar(std::shared_ptr<const GrammarNode> node) : node_(std::move(node)) {
  if (!node_) throw_error(ErrorCode::kInvalidArgument, "grammar: a null node");
}

Grammar literal(std::string_view text) { return Grammar(make_literal(std::string(text))); }

Grammar never() { return Grammar(make_dead()); }

Grammar sequence(std::vector<Grammar> parts) {
  // Flattened, with adjacent literals merged: fewer frames while matching.
  std::vector<NodePtr> children;
  bool nullable = true;
  for (const Grammar& part : parts) {
    const NodePtr& node = part.node();
    if (node->dead) return Grammar(make_dead());
    if (is_empty_literal(*node)) continue;
    nullable = nullable && node->nullable;
    const auto add = [&](const NodePtr& child) {
      if (child->kind == GrammarNode::Kind::kLiteral && !children.empty() &&
          children.back()->kind == GrammarNode::Kind::kLiteral) {
        children.back() = make_literal(children.back()->text + child->text);
      } else {
        children.push_back(child);
      }
    };
    if (node->kind == GrammarNode::Kind::kSequence) {
      for (const NodePtr& child : node->children) add(child);
    } else {
      add(node);
    }
  }
  if (children.empty()) return Grammar();
  if (children.size() == 1) return Grammar(children[0]);
  auto node = std::make_shared<GrammarNode>();
  node->kind = GrammarNode::Kind::kSequence;
  node->children = std::move(children);
  node->nullable = nullable;
  return Grammar(std::move(node));
}

Grammar choice(std::vector<Grammar> alternatives) {
  if (alternatives.empty()) throw_error(ErrorCode::kInvalidArgument, "grammar: a choice of no alternatives");
  std::vector<NodePtr> children;
  bool nullable = false;
  for (const Grammar& alternative : alternatives) {
    if (alternative.dead()) continue;  // e.g. a recursive $ref past the depth bound
    bool seen = false;
    for (const NodePtr& child : children) seen = seen || child == alternative.node();
    if (seen) continue;
    nullable = nullable || alternative.nullable();
    children.push_back(alternative.node());
  }
  if (children.empty()) return Grammar(make_dead());
  if (children.size() == 1) return Grammar(children[0]);
  auto node = std::make_shared<GrammarNode>();
  node->kind = GrammarNode::Kind::kChoice;
  node->children = std::move(children);
  node->nullable = nullable;
  return Grammar(std::move(node));
}

Grammar repeat(const Grammar& item, int32_t min, int32_t max) {
  if (min < 0 || (max != kUnbounded && max < min)) {
    throw_error(ErrorCode::kInvalidArgument, "grammar: repeat bounds {}..{} are invalid", min, max);
  }
  if (item.nullable() && !is_empty_literal(*item.node())) {
    throw_error(ErrorCode::kInvalidArgument, "grammar: a repeated item must not match the empty string");
  }
  if (max == 0 || is_empty_literal(*item.node())) return Grammar();
  if (item.dead()) return min == 0 ? Grammar() : Grammar(make_dead());
  if (min == 1 && max == 1) return item;
  auto node = std::make_shared<GrammarNode>();
  node->kind = GrammarNode::Kind::kRepeat;
  node->children = {item.node()};
  node->min = min;
  node->max = max;
  node->nullable = min == 0;
  return Grammar(std::move(node));
}

Grammar optional(const Grammar& item) { return repeat(item, 0, 1); }

Grammar byte_class(std::string_view bytes) {
  if (bytes.empty()) throw_error(ErrorCode::kInvalidArgument, "grammar: an empty byte class");
  auto node = std::make_shared<GrammarNode>();
  node->kind = GrammarNode::Kind::kByteClass;
  for (const char c : bytes) {
    const auto b = static_cast<uint8_t>(c);
    node->bytes[b >> 6] |= uint64_t{1} << (b & 63);
  }
  node->nullable = false;
  return Grammar(std::move(node));
}

Grammar json_whitespace(const JsonOptions& options) {
  if (options.max_whitespace <= 0) return Grammar();
  return repeat(byte_class(" \t\n"), 0, options.max_whitespace);
}

Grammar json_string(int32_t min_length, int32_t max_length) {
  if (min_length < 0 || (max_length != kUnbounded && max_length < min_length)) {
    throw_error(ErrorCode::kInvalidArgument, "grammar: string length bounds {}..{} are invalid", min_length,
                max_length);
  }
  auto node = std::make_shared<GrammarNode>();
  node->kind = GrammarNode::Kind::kJsonString;
  node->min = min_length;
  node->max = max_length;
  node->nullable = false;
  return Grammar(std::move(node));
}

Grammar json_integer() {
  const Grammar digit = byte_class("0123456789");
  const Grammar natural = choice({literal("0"), sequence({byte_class("123456789"), repeat(digit, 0, 15)})});
  return sequence({optional(literal("-")), natural});
}

Grammar json_number() {
  const Grammar digit = byte_class("0123456789");
  const Grammar fraction = sequence({literal("."), repeat(digit, 1, 16)});
  const Grammar exponent = sequence({byte_class("eE"), optional(byte_class("+-")), repeat(digit, 1, 3)});
  return sequence({json_integer(), optional(fraction), optional(exponent)});
}

namespace {

Grammar json_scalar() {
  return choice({json_string(), json_number(), literal("true"), literal("false"), literal("null")});
}

// `{ "key": value, ... }` with values from `value`.
Grammar object_of(const Grammar& value, const JsonOptions& options) {
  const Grammar ws = json_whitespace(options);
  const Grammar member = sequence({json_string(), literal(":"), ws, value});
  const Grammar members = sequence({member, repeat(sequence({literal(","), ws, member}), 0, kUnbounded), ws});
  return sequence({literal("{"), ws, optional(members), literal("}")});
}

Grammar array_of(const Grammar& value, const JsonOptions& options) {
  const Grammar ws = json_whitespace(options);
  const Grammar items = sequence({value, repeat(sequence({literal(","), ws, value}), 0, kUnbounded), ws});
  return sequence({literal("["), ws, optional(items), literal("]")});
}

// Any value nested at most `depth` containers deep, unrolled level by level
// (each level shares the one below, so the size is linear in the depth).
Grammar json_value_at_depth(int32_t depth, const JsonOptions& options) {
  Grammar value = json_scalar();
  for (int32_t level = 0; level < depth; ++level) {
    value = choice({json_scalar(), object_of(value, options), array_of(value, options)});
  }
  return value;
}

}  // namespace

Grammar json_value(const JsonOptions& options) {
  return json_value_at_depth(std::max(options.max_depth, 1), options);
}

Grammar json_object(const JsonOptions& options) {
  return object_of(json_value_at_depth(std::max(options.max_depth, 1) - 1, options), options);
}

}  // namespace tether::constrain
