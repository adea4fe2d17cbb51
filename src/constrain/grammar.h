#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/value.hpp>

#include "engine/generation/token_constraint.h"

namespace tether::constrain {

class Vocabulary;

inline constexpr int32_t kUnbounded = -1;

// One node of a grammar. Nodes are immutable and shared, so a grammar is a
// DAG: builders never make cycles (recursive JSON Schemas are unrolled to a
// bounded depth), which keeps matching free of left recursion.
struct GrammarNode {
  enum class Kind {
    kLiteral,     // `text`, byte for byte ("" matches the empty string)
    kByteClass,   // one byte whose bit is set in `bytes`
    kSequence,    // `children` one after another
    kChoice,      // one of `children` (none: matches nothing at all)
    kRepeat,      // `children[0]` between `min` and `max` (kUnbounded) times
    kJsonString,  // a JSON string, quotes included, with valid escapes and
                  // UTF-8, of `min`..`max` (kUnbounded) characters
  };
  Kind kind = Kind::kLiteral;
  std::string text;
  std::array<uint64_t, 4> bytes{};
  std::vector<std::shared_ptr<const GrammarNode>> children;
  int32_t min = 0;
  int32_t max = 0;
  bool nullable = true;  // matches the empty string
  bool dead = false;     // matches nothing
};

// An immutable grammar over output bytes (the text a sequence emits).
// Cheap to copy; build with the functions below.
class Grammar {
 public:
  Grammar();  // the empty string
  explicit Grammar(std::shared_ptr<const GrammarNode> node);

  const std::shared_ptr<const GrammarNode>& node() const { return node_; }
  bool nullable() const { return node_->nullable; }
  bool dead() const { return node_->dead; }

 private:
  std::shared_ptr<const GrammarNode> node_;
};

// Whitespace the JSON builders allow: at most `max_whitespace` bytes of
// space, tab or newline after `{`, `[`, `,`, `:` and before `}`, `]`.
// Bounded so that a model cannot emit whitespace forever. `max_depth`
// bounds the nesting of free-form JSON values and of recursive $refs.
// `ignore_unsupported`: validation keywords json_schema cannot enforce
// (pattern, minimum, ...) are skipped instead of refused; the output then
// may not validate against them (for schemas that are hints, e.g. tools
// without "strict": true).
struct JsonOptions {
  int32_t max_whitespace = 1;
  int32_t max_depth = 8;
  bool ignore_unsupported = false;
};

Grammar literal(std::string_view text);
// Matches nothing; choice() drops it, sequence() with it matches nothing.
Grammar never();
Grammar sequence(std::vector<Grammar> parts);
// Throws Error(kInvalidArgument) for no alternatives.
Grammar choice(std::vector<Grammar> alternatives);
// `max` may be kUnbounded. Throws Error(kInvalidArgument) when min < 0,
// max < min, or the item may match the empty string (which would make a
// repetition ambiguous without bound).
Grammar repeat(const Grammar& item, int32_t min, int32_t max);
Grammar optional(const Grammar& item);
// One byte among `bytes` (e.g. "0123456789").
Grammar byte_class(std::string_view bytes);
// Whitespace as JsonOptions says (possibly the empty string).
Grammar json_whitespace(const JsonOptions& options = {});

// A JSON string (quotes included) of min..max characters.
Grammar json_string(int32_t min_length = 0, int32_t max_length = kUnbounded);
// JSON numbers; digits are bounded (at most 16 integer, 16 fraction and 3
// exponent digits) so that a model cannot run on forever.
Grammar json_integer();
Grammar json_number();
// Any JSON value / any JSON object (response_format json_object), nested at
// most options.max_depth deep.
Grammar json_value(const JsonOptions& options = {});
Grammar json_object(const JsonOptions& options = {});

// The JSON documents that validate against `schema` (see json_schema.cpp
// for the supported subset). Throws Error(kInvalidArgument) naming an
// unsupported keyword or a malformed schema, or when the schema is too large
// or too deep.
Grammar json_schema(const boost::json::value& schema, const JsonOptions& options = {});

// A grammar compiled against one vocabulary: a factory of per-sequence
// constraints. Cheap per request; the per-vocabulary work is in Vocabulary.
std::shared_ptr<const generation::TokenConstraintFactory> compile(const Grammar& grammar,
                                                                  std::shared_ptr<const Vocabulary> vocabulary);

}  // namespace tether::constrain
