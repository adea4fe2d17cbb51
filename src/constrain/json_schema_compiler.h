#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "constrain/grammar.h"

namespace tether::constrain {

// JSON Schema -> Grammar for the subset structured outputs need.
//
// Supported: type (object, array, string, number, integer, boolean, null,
// and arrays of them), properties (emitted in schema order), required,
// additionalProperties, enum, const, items, minItems, maxItems, minLength,
// maxLength, minimum, maximum, exclusiveMinimum, exclusiveMaximum (numbers
// or draft-4 booleans; integers exactly, numbers as an integer part in
// range with a fraction only below the top integer, so values between a
// fractional bound and the nearest integer are never generated), anyOf,
// oneOf (as anyOf: the output matches at least one
// alternative), allOf and $ref siblings (merged when their keywords do not
// conflict), $ref to "#", "#/$defs/..." and "#/definitions/..." (or any
// local JSON pointer), OpenAPI's nullable. Recursive $refs are unrolled
// JsonOptions::max_depth levels deep.
//
// Objects: only the declared properties are ever generated, whatever
// additionalProperties says (the output validates either way); an object
// with no properties takes any keys, with values per additionalProperties
// when that is a schema. `required` names without a property schema take
// any value.
//
// Ignored (annotations): title, description, default, examples, format,
// $schema, $id, $comment, deprecated, readOnly, writeOnly and unknown
// keywords. Validation keywords that cannot be honoured (pattern,
// multipleOf, uniqueItems, not, if/then/else, prefixItems, ...) throw
// Error(kInvalidArgument) naming the keyword, unless
// JsonOptions::ignore_unsupported says to skip them.
//
// Untrusted input: the schema's nesting and the work done are bounded
// (kMaxDepth, kMaxWork); past them a clear error, never a crash.
class JsonSchemaCompiler {
 public:
  static constexpr int32_t kMaxDepth = 64;
  static constexpr int64_t kMaxWork = 20000;

  JsonSchemaCompiler(const boost::json::value& root, const JsonOptions& options);
  Grammar compile();

 private:
  Grammar schema(const boost::json::value& schema, int32_t depth);
  Grammar object_schema(const boost::json::object& schema, int32_t depth);
  Grammar typed(const boost::json::object& schema, const std::string& type, int32_t depth);
  Grammar object_type(const boost::json::object& schema, int32_t depth);
  Grammar array_type(const boost::json::object& schema, int32_t depth);
  Grammar any_value(int32_t depth) const;
  Grammar reference(const std::string& ref, int32_t depth);
  const boost::json::value& resolve(const std::string& ref) const;
  void charge(int64_t work);

  const boost::json::value& root_;
  JsonOptions options_;
  Grammar ws_;
  int64_t work_ = 0;
  std::map<std::string, int32_t> active_refs_;  // $refs being expanded, with their nesting
  std::map<std::string, Grammar> memo_;          // by $ref and active_refs_
};

}  // namespace tether::constrain
