#include "constrain/json_schema_compiler.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <string_view>

#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>
#include <fmt/format.h>

#include "common/error.h"

namespace tether::constrain {
namespace {

namespace json = boost::json;

// Keywords that carry no constraint on the generated value.
constexpr std::array<std::string_view, 16> kAnnotations = {
    "title",      "description", "default",  "examples", "format",          "$schema",
    "$id",        "$comment",    "deprecated", "readOnly", "writeOnly",     "$defs",
    "definitions", "$anchor",    "contentMediaType", "contentEncoding"};

// Validation keywords we cannot honour in a grammar: a schema using them is
// refused rather than silently not enforced.
constexpr std::array<std::string_view, 21> kUnsupported = {
    "pattern",
    "multipleOf",       "patternProperties", "propertyNames", "minProperties",    "maxProperties",
    "dependentRequired", "dependentSchemas", "dependencies",  "if",               "then",
    "else",             "not",              "contains",       "minContains",      "maxContains",
    "uniqueItems",      "unevaluatedProperties", "unevaluatedItems", "additionalItems", "prefixItems"};

constexpr std::array<std::string_view, 7> kTypes = {"object", "array", "string", "number",
                                                   "integer", "boolean", "null"};

bool contains(auto const& list, std::string_view key) {
  return std::find(list.begin(), list.end(), key) != list.end();
}

bool is_annotation(std::string_view key) { return contains(kAnnotations, key); }

// A non-negative integer keyword (minItems, maxLength, ...), or `fallback`.
int32_t count_keyword(const json::object& schema, std::string_view key, int32_t fallback) {
  const json::value* value = schema.if_contains(key);
  if (value == nullptr) return fallback;
  constexpr int64_t kLimit = 1'000'000;
  int64_t n = -1;
  if (value->is_int64()) {
    n = value->as_int64();
  } else if (value->is_uint64()) {
    n = value->as_uint64() > static_cast<uint64_t>(kLimit) ? kLimit + 1 : static_cast<int64_t>(value->as_uint64());
  } else if (value->is_double() && value->as_double() >= 0 && value->as_double() <= kLimit &&
             value->as_double() == static_cast<double>(static_cast<int64_t>(value->as_double()))) {
    n = static_cast<int64_t>(value->as_double());
  }
  if (n < 0 || n > kLimit) {
    throw_error(ErrorCode::kInvalidArgument, "JSON Schema: '{}' must be an integer in 0..{}", key, kLimit);
  }
  return static_cast<int32_t>(n);
}

bool is_integral(const json::value& value) {
  if (value.is_int64() || value.is_uint64()) return true;
  if (!value.is_double()) return false;
  const double d = value.as_double();
  return d >= -9.0e15 && d <= 9.0e15 && d == static_cast<double>(static_cast<int64_t>(d));
}

// Whether `value` is of JSON Schema type `type`.
bool has_type(const json::value& value, std::string_view type) {
  if (type == "object") return value.is_object();
  if (type == "array") return value.is_array();
  if (type == "string") return value.is_string();
  if (type == "number") return value.is_number();
  if (type == "integer") return is_integral(value);
  if (type == "boolean") return value.is_bool();
  return value.is_null();
}

// Code points of a (valid UTF-8) string.
int64_t utf8_length(std::string_view text) {
  int64_t n = 0;
  for (const char c : text) n += (static_cast<uint8_t>(c) & 0xC0) != 0x80;
  return n;
}

// The schema's types: "type" (string or array), plus null for OpenAPI's
// nullable; empty when the schema names none.
std::vector<std::string> declared_types(const json::object& schema) {
  std::vector<std::string> types;
  if (const json::value* type = schema.if_contains("type")) {
    const auto add = [&](const json::value& name) {
      if (!name.is_string() || !contains(kTypes, std::string_view(name.as_string()))) {
        throw_error(ErrorCode::kInvalidArgument, "JSON Schema: unknown type {}", json::serialize(name));
      }
      const std::string text(name.as_string());
      if (!contains(types, text)) types.push_back(text);
    };
    if (type->is_array()) {
      if (type->as_array().empty()) throw_error(ErrorCode::kInvalidArgument, "JSON Schema: an empty 'type' array");
      for (const json::value& name : type->as_array()) add(name);
    } else {
      add(*type);
    }
  }
  if (const json::value* nullable = schema.if_contains("nullable")) {
    if (nullable->is_bool() && nullable->as_bool() && !types.empty() && !contains(types, std::string("null"))) {
      types.emplace_back("null");
    }
  }
  return types;
}

// `a` and `b` as one schema (allOf, $ref with siblings): their keywords
// together; required lists united; any other keyword in both must agree.
json::object merge(const json::object& a, const json::object& b, std::string_view where) {
  // additionalProperties sees only the properties beside it: once merged
  // with another part's properties its meaning would change.
  const auto declares = [](const json::object& o) { return o.contains("properties") || o.contains("required"); };
  if ((a.contains("additionalProperties") && declares(b)) || (b.contains("additionalProperties") && declares(a))) {
    throw_error(ErrorCode::kInvalidArgument,
                "JSON Schema: 'additionalProperties' in {} beside another part's properties is unsupported", where);
  }
  json::object merged = a;
  for (const auto& [key, value] : b) {
    json::value* existing = merged.if_contains(key);
    if (existing == nullptr) {
      merged[key] = value;
    } else if (key == "required" && existing->is_array() && value.is_array()) {
      for (const json::value& name : value.as_array()) {
        if (std::find(existing->as_array().begin(), existing->as_array().end(), name) ==
            existing->as_array().end()) {
          existing->as_array().push_back(name);
        }
      }
    } else if (key == "properties" && existing->is_object() && value.is_object()) {
      // The same property in both: its value must satisfy both schemas.
      for (const auto& [name, property] : value.as_object()) {
        json::value* mine = existing->as_object().if_contains(name);
        if (mine == nullptr) {
          existing->as_object()[name] = property;
        } else if (*mine != property) {
          *mine = json::object{{"allOf", json::array{*mine, property}}};
        }
      }
    } else if (*existing != value && !is_annotation(key)) {
      throw_error(ErrorCode::kInvalidArgument, "JSON Schema: conflicting '{}' in {} cannot be combined",
                  std::string_view(key), where);
    }
  }
  return merged;
}

// The keywords of `schema` other than `skip` and annotations.
json::object siblings(const json::object& schema, std::string_view skip) {
  json::object rest;
  for (const auto& [key, value] : schema) {
    if (key != skip && !is_annotation(key)) rest[key] = value;
  }
  return rest;
}

Grammar dead() { return never(); }

// Numeric bounds are enforced on at most this many integer digits (the
// number grammars' own limit).
constexpr int64_t kMaxMagnitude = 9'999'999'999'999'999;  // 16 digits

// Decimal strings of the same length from `x` to `y` (x <= y), digit by
// digit: linear in the length.
Grammar same_length_range(std::string_view x, std::string_view y) {
  if (x.empty()) return Grammar();
  const auto digits = [](char from, char to) {
    std::string set;
    for (char c = from; c <= to; ++c) set.push_back(c);
    return byte_class(set);
  };
  // Any digits: without this shortcut both sides would recurse at every
  // position (exponential in the length).
  if (x.find_first_not_of('0') == std::string_view::npos && y.find_first_not_of('9') == std::string_view::npos) {
    return repeat(digits('0', '9'), static_cast<int32_t>(x.size()), static_cast<int32_t>(x.size()));
  }
  if (x[0] == y[0]) return sequence({literal(x.substr(0, 1)), same_length_range(x.substr(1), y.substr(1))});
  const size_t rest = x.size() - 1;
  std::vector<Grammar> alternatives;
  alternatives.push_back(sequence({literal(x.substr(0, 1)), same_length_range(x.substr(1), std::string(rest, '9'))}));
  if (x[0] + 1 <= y[0] - 1) {
    alternatives.push_back(sequence({digits(static_cast<char>(x[0] + 1), static_cast<char>(y[0] - 1)),
                                     repeat(digits('0', '9'), static_cast<int32_t>(rest), static_cast<int32_t>(rest))}));
  }
  alternatives.push_back(sequence({literal(y.substr(0, 1)), same_length_range(std::string(rest, '0'), y.substr(1))}));
  return choice(std::move(alternatives));
}

// The non-negative integers a..b as JSON writes them (no leading zeros).
Grammar natural_range(int64_t a, int64_t b) {
  if (a > b) return never();
  std::vector<Grammar> alternatives;
  int64_t low = 0;
  int64_t high = 9;
  for (int length = 1; length <= 16; ++length) {
    const int64_t x = std::max(a, low);
    const int64_t y = std::min(b, high);
    if (x <= y) alternatives.push_back(same_length_range(std::to_string(x), std::to_string(y)));
    if (high >= b) break;
    low = high + 1;
    high = high * 10 + 9;
  }
  return alternatives.empty() ? never() : choice(std::move(alternatives));
}

// minimum / maximum / exclusiveMinimum / exclusiveMaximum (numbers, or the
// draft-4 booleans), as the integers a value's integer part may take.
struct NumericBounds {
  bool bounded = false;
  double lo = -1e300;
  double hi = 1e300;
  bool lo_exclusive = false;
  bool hi_exclusive = false;
};

NumericBounds numeric_bounds(const json::object& schema) {
  NumericBounds bounds;
  const auto number = [&](std::string_view key) -> const json::value* {
    const json::value* value = schema.if_contains(key);
    if (value != nullptr && !value->is_number() && !value->is_bool()) {
      throw_error(ErrorCode::kInvalidArgument, "JSON Schema: '{}' must be a number", key);
    }
    return value;
  };
  if (const json::value* v = number("minimum"); v != nullptr && v->is_number()) {
    bounds.lo = v->to_number<double>();
    bounds.bounded = true;
  }
  if (const json::value* v = number("maximum"); v != nullptr && v->is_number()) {
    bounds.hi = v->to_number<double>();
    bounds.bounded = true;
  }
  if (const json::value* v = number("exclusiveMinimum")) {
    if (v->is_bool()) {
      bounds.lo_exclusive = v->as_bool();
    } else if (v->to_number<double>() >= bounds.lo) {
      bounds.lo = v->to_number<double>();
      bounds.lo_exclusive = true;
      bounds.bounded = true;
    }
  }
  if (const json::value* v = number("exclusiveMaximum")) {
    if (v->is_bool()) {
      bounds.hi_exclusive = v->as_bool();
    } else if (v->to_number<double>() <= bounds.hi) {
      bounds.hi = v->to_number<double>();
      bounds.hi_exclusive = true;
      bounds.bounded = true;
    }
  }
  return bounds;
}

int64_t clamp_magnitude(double value) {
  return static_cast<int64_t>(std::clamp(value, -static_cast<double>(kMaxMagnitude), static_cast<double>(kMaxMagnitude)));
}

// Least integer above (exclusive) or at least (inclusive) `bound`, and the
// greatest below / at most.
int64_t integer_at_least(double bound, bool exclusive) {
  return clamp_magnitude(exclusive ? std::floor(bound) + 1 : std::ceil(bound));
}
int64_t integer_at_most(double bound, bool exclusive) {
  return clamp_magnitude(exclusive ? std::ceil(bound) - 1 : std::floor(bound));
}

Grammar bounded_integer(const NumericBounds& bounds) {
  const int64_t lo = integer_at_least(bounds.lo, bounds.lo_exclusive);
  const int64_t hi = integer_at_most(bounds.hi, bounds.hi_exclusive);
  if (lo > hi) return never();
  std::vector<Grammar> alternatives;
  if (hi >= 0) alternatives.push_back(natural_range(std::max<int64_t>(lo, 0), hi));
  if (lo < 0) alternatives.push_back(sequence({literal("-"), natural_range(std::max<int64_t>(-hi, 1), -lo)}));
  return choice(std::move(alternatives));
}

// Magnitudes m..n with any fraction below n, and n itself: every value is
// in [m, n]. Values between the bounds and the nearest integers are left
// out (a narrower but always valid output).
Grammar magnitude_range(int64_t m, int64_t n) {
  if (m > n) return never();
  const Grammar fraction = sequence({literal("."), repeat(byte_class("0123456789"), 1, 16)});
  std::vector<Grammar> alternatives = {natural_range(n, n)};
  if (m <= n - 1) alternatives.push_back(sequence({natural_range(m, n - 1), optional(fraction)}));
  return choice(std::move(alternatives));
}

Grammar bounded_number(const NumericBounds& bounds) {
  std::vector<Grammar> alternatives;
  const int64_t hi = integer_at_most(bounds.hi, bounds.hi_exclusive);
  const int64_t lo = integer_at_least(bounds.lo, bounds.lo_exclusive);
  if (hi >= 0 && lo <= hi) alternatives.push_back(magnitude_range(std::max<int64_t>(lo, 0), hi));
  if (lo < 0 && lo <= hi) {
    // -(m.f) for m.f in [max(-hi, 0), -lo].
    alternatives.push_back(sequence({literal("-"), magnitude_range(std::max<int64_t>(-hi, 0), -lo)}));
  }
  return alternatives.empty() ? never() : choice(std::move(alternatives));
}

}  // namespace

JsonSchemaCompiler::JsonSchemaCompiler(const json::value& root, const JsonOptions& options)
    : root_(root), options_(options), ws_(json_whitespace(options)) {}

Grammar JsonSchemaCompiler::compile() {
  Grammar grammar = schema(root_, 0);
  if (grammar.dead()) throw_error(ErrorCode::kInvalidArgument, "JSON Schema: no value can satisfy the schema");
  return grammar;
}

void JsonSchemaCompiler::charge(int64_t work) {
  work_ += work;
  if (work_ > kMaxWork) {
    throw_error(ErrorCode::kInvalidArgument, "JSON Schema: too large (more than {} units of work)", kMaxWork);
  }
}

Grammar JsonSchemaCompiler::any_value(int32_t depth) const {
  (void)depth;
  return json_value(options_);
}

Grammar JsonSchemaCompiler::schema(const json::value& schema, int32_t depth) {
  charge(1);
  if (depth > kMaxDepth) throw_error(ErrorCode::kInvalidArgument, "JSON Schema: nested deeper than {}", kMaxDepth);
  if (schema.is_bool()) return schema.as_bool() ? any_value(depth) : dead();
  if (!schema.is_object()) {
    throw_error(ErrorCode::kInvalidArgument, "JSON Schema: a schema must be an object or a boolean, got {}",
                json::serialize(schema).substr(0, 40));
  }
  return object_schema(schema.as_object(), depth);
}

Grammar JsonSchemaCompiler::object_schema(const json::object& schema, int32_t depth) {
  for (const auto& [key, value] : schema) {
    if (contains(kUnsupported, std::string_view(key)) && !options_.ignore_unsupported) {
      throw_error(ErrorCode::kInvalidArgument, "JSON Schema: unsupported keyword '{}'", std::string_view(key));
    }
  }
  if (const json::value* ref = schema.if_contains("$ref")) {
    if (!ref->is_string()) throw_error(ErrorCode::kInvalidArgument, "JSON Schema: '$ref' must be a string");
    const std::string target(ref->as_string());
    const json::object rest = siblings(schema, "$ref");
    if (rest.empty()) return reference(target, depth);
    const json::value& resolved = resolve(target);
    if (resolved.is_bool()) return resolved.as_bool() ? this->schema(json::value(rest), depth + 1) : dead();
    if (!resolved.is_object()) throw_error(ErrorCode::kInvalidArgument, "JSON Schema: '$ref' {} is not a schema", target);
    return this->schema(json::value(merge(rest, resolved.as_object(), "$ref")), depth + 1);
  }
  if (const json::value* all = schema.if_contains("allOf")) {
    if (!all->is_array() || all->as_array().empty()) {
      throw_error(ErrorCode::kInvalidArgument, "JSON Schema: 'allOf' must be a non-empty array");
    }
    json::object merged = siblings(schema, "allOf");
    for (const json::value& part : all->as_array()) {
      charge(1);
      if (part.is_bool()) {
        if (!part.as_bool()) return dead();
        continue;
      }
      if (!part.is_object()) throw_error(ErrorCode::kInvalidArgument, "JSON Schema: 'allOf' items must be schemas");
      merged = merge(merged, part.as_object(), "allOf");
    }
    return this->schema(json::value(std::move(merged)), depth + 1);
  }
  const json::value* any = schema.if_contains("anyOf");
  if (any == nullptr) any = schema.if_contains("oneOf");
  if (any != nullptr) {
    if (schema.contains("anyOf") && schema.contains("oneOf")) {
      throw_error(ErrorCode::kInvalidArgument, "JSON Schema: 'anyOf' together with 'oneOf' is unsupported");
    }
    const std::string_view keyword = schema.contains("anyOf") ? "anyOf" : "oneOf";
    if (!any->is_array() || any->as_array().empty()) {
      throw_error(ErrorCode::kInvalidArgument, "JSON Schema: '{}' must be a non-empty array", keyword);
    }
    const json::object rest = siblings(schema, keyword);
    std::vector<Grammar> alternatives;
    for (const json::value& alternative : any->as_array()) {
      if (rest.empty() || (alternative.is_bool() && !alternative.as_bool())) {
        alternatives.push_back(this->schema(alternative, depth + 1));
      } else if (alternative.is_bool()) {
        alternatives.push_back(this->schema(json::value(rest), depth + 1));
      } else if (alternative.is_object()) {
        alternatives.push_back(this->schema(json::value(merge(rest, alternative.as_object(), keyword)), depth + 1));
      } else {
        throw_error(ErrorCode::kInvalidArgument, "JSON Schema: '{}' items must be schemas", keyword);
      }
    }
    return choice(std::move(alternatives));
  }

  const std::vector<std::string> types = declared_types(schema);
  const auto fits = [&](const json::value& value) {
    if (!types.empty() && std::none_of(types.begin(), types.end(), [&](const std::string& t) { return has_type(value, t); })) {
      return false;
    }
    if (value.is_string()) {
      const int64_t length = utf8_length(value.as_string());
      const int32_t max = count_keyword(schema, "maxLength", -1);
      if (length < count_keyword(schema, "minLength", 0) || (max >= 0 && length > max)) return false;
    }
    if (value.is_number()) {
      const NumericBounds bounds = numeric_bounds(schema);
      const double d = value.to_number<double>();
      if ((bounds.lo_exclusive ? d <= bounds.lo : d < bounds.lo) || (bounds.hi_exclusive ? d >= bounds.hi : d > bounds.hi)) {
        return false;
      }
    }
    if (value.is_array()) {
      const auto n = static_cast<int64_t>(value.as_array().size());
      const int32_t max = count_keyword(schema, "maxItems", -1);
      if (n < count_keyword(schema, "minItems", 0) || (max >= 0 && n > max)) return false;
    }
    return true;
  };
  if (const json::value* value = schema.if_contains("const")) {
    charge(1);
    if (const json::value* values = schema.if_contains("enum")) {
      if (!values->is_array() || std::find(values->as_array().begin(), values->as_array().end(), *value) ==
                                     values->as_array().end()) {
        return dead();
      }
    }
    return fits(*value) ? literal(json::serialize(*value)) : dead();
  }
  if (const json::value* values = schema.if_contains("enum")) {
    if (!values->is_array() || values->as_array().empty()) {
      throw_error(ErrorCode::kInvalidArgument, "JSON Schema: 'enum' must be a non-empty array");
    }
    std::vector<Grammar> alternatives;
    for (const json::value& value : values->as_array()) {
      charge(1);
      if (fits(value)) alternatives.push_back(literal(json::serialize(value)));
    }
    return alternatives.empty() ? dead() : choice(std::move(alternatives));
  }

  std::vector<std::string> inferred = types;
  if (inferred.empty()) {
    const auto has_any = [&](std::initializer_list<std::string_view> keys) {
      return std::any_of(keys.begin(), keys.end(), [&](std::string_view key) { return schema.contains(key); });
    };
    if (has_any({"properties", "required", "additionalProperties"})) inferred.emplace_back("object");
    if (has_any({"items", "minItems", "maxItems"})) inferred.emplace_back("array");
    if (has_any({"minLength", "maxLength"})) inferred.emplace_back("string");
    if (inferred.empty()) return any_value(depth);
  }
  std::vector<Grammar> alternatives;
  for (const std::string& type : inferred) alternatives.push_back(typed(schema, type, depth));
  return choice(std::move(alternatives));
}

Grammar JsonSchemaCompiler::typed(const json::object& schema, const std::string& type, int32_t depth) {
  if (type == "object") return object_type(schema, depth);
  if (type == "array") return array_type(schema, depth);
  if (type == "string") {
    const int32_t min = count_keyword(schema, "minLength", 0);
    const int32_t max = count_keyword(schema, "maxLength", kUnbounded);
    if (max != kUnbounded && max < min) return dead();
    return json_string(min, max);
  }
  if (type == "number" || type == "integer") {
    const NumericBounds bounds = numeric_bounds(schema);
    if (!bounds.bounded) return type == "number" ? json_number() : json_integer();
    return type == "number" ? bounded_number(bounds) : bounded_integer(bounds);
  }
  if (type == "boolean") return choice({literal("true"), literal("false")});
  return literal("null");
}

Grammar JsonSchemaCompiler::object_type(const json::object& schema, int32_t depth) {
  struct Member {
    Grammar grammar;
    bool required;
  };
  std::vector<std::string> required;
  if (const json::value* names = schema.if_contains("required")) {
    if (!names->is_array()) throw_error(ErrorCode::kInvalidArgument, "JSON Schema: 'required' must be an array");
    for (const json::value& name : names->as_array()) {
      if (!name.is_string()) throw_error(ErrorCode::kInvalidArgument, "JSON Schema: 'required' names must be strings");
      required.emplace_back(name.as_string());
    }
  }
  const json::object empty;
  const json::object* properties = &empty;
  if (const json::value* value = schema.if_contains("properties")) {
    if (!value->is_object()) throw_error(ErrorCode::kInvalidArgument, "JSON Schema: 'properties' must be an object");
    properties = &value->as_object();
  }
  const auto member = [&](std::string_view key, const Grammar& value) {
    return sequence({literal(json::serialize(json::string(key))), literal(":"), ws_, value});
  };
  std::vector<Member> members;
  for (const auto& [key, value] : *properties) {
    const bool is_required = contains(required, std::string_view(key));
    Grammar grammar = this->schema(value, depth + 1);
    if (grammar.dead()) {
      if (is_required) return dead();
      continue;
    }
    members.push_back({member(key, grammar), is_required});
  }
  for (const std::string& name : required) {
    if (!properties->contains(name)) members.push_back({member(name, any_value(depth + 1)), true});
  }

  if (members.empty()) {
    // No declared properties: any keys, values per additionalProperties.
    const json::value* additional = schema.if_contains("additionalProperties");
    if (additional != nullptr && additional->is_bool() && !additional->as_bool()) {
      return sequence({literal("{"), ws_, literal("}")});
    }
    Grammar value = any_value(depth + 1);
    if (additional != nullptr && additional->is_object()) value = this->schema(*additional, depth + 1);
    if (value.dead()) return sequence({literal("{"), ws_, literal("}")});
    const Grammar entry = sequence({json_string(), literal(":"), ws_, value});
    const Grammar entries = sequence({entry, repeat(sequence({literal(","), ws_, entry}), 0, kUnbounded), ws_});
    return sequence({literal("{"), ws_, optional(entries), literal("}")});
  }

  // Properties in schema order, the optional ones skippable: after[i] is
  // what may follow once members before i are settled, given that one was
  // already emitted (so a comma comes first); first[i] the same when none
  // was. Linear in the number of properties.
  const size_t n = members.size();
  charge(static_cast<int64_t>(n));
  std::vector<Grammar> after(n + 1);
  std::vector<Grammar> first(n + 1);
  for (size_t i = n; i-- > 0;) {
    const Grammar emit_after = sequence({literal(","), ws_, members[i].grammar, after[i + 1]});
    const Grammar emit_first = sequence({members[i].grammar, after[i + 1]});
    after[i] = members[i].required ? emit_after : choice({emit_after, after[i + 1]});
    first[i] = members[i].required ? emit_first : choice({emit_first, first[i + 1]});
  }
  return sequence({literal("{"), ws_, first[0], ws_, literal("}")});
}

Grammar JsonSchemaCompiler::array_type(const json::object& schema, int32_t depth) {
  const int32_t min = count_keyword(schema, "minItems", 0);
  const int32_t max = count_keyword(schema, "maxItems", kUnbounded);
  if (max != kUnbounded && max < min) return dead();
  const Grammar empty_array = sequence({literal("["), ws_, literal("]")});
  if (max == 0) return empty_array;
  Grammar item = any_value(depth + 1);
  if (const json::value* items = schema.if_contains("items")) item = this->schema(*items, depth + 1);
  if (item.dead()) return min == 0 ? empty_array : dead();
  const Grammar rest = repeat(sequence({literal(","), ws_, item}), std::max(min - 1, 0),
                              max == kUnbounded ? kUnbounded : max - 1);
  const Grammar items = sequence({item, rest, ws_});
  return sequence({literal("["), ws_, min == 0 ? optional(items) : items, literal("]")});
}

const json::value& JsonSchemaCompiler::resolve(const std::string& ref) const {
  if (ref.empty() || ref[0] != '#') {
    throw_error(ErrorCode::kInvalidArgument, "JSON Schema: only local $refs (\"#...\") are supported, got '{}'", ref);
  }
  if (ref == "#") return root_;
  boost::system::error_code error;
  const json::value* target = root_.find_pointer(std::string_view(ref).substr(1), error);
  if (target == nullptr || error) throw_error(ErrorCode::kInvalidArgument, "JSON Schema: $ref '{}' not found", ref);
  return *target;
}

Grammar JsonSchemaCompiler::reference(const std::string& ref, int32_t depth) {
  std::string key = ref;
  for (const auto& [name, count] : active_refs_) key += fmt::format("\n{}={}", name, count);
  if (const auto found = memo_.find(key); found != memo_.end()) return found->second;
  int32_t& active = active_refs_[ref];
  if (active >= std::max(options_.max_depth, 1)) return dead();  // recursion past the bound
  ++active;
  const json::value& target = resolve(ref);
  Grammar grammar;
  try {
    grammar = schema(target, depth + 1);
  } catch (...) {
    if (--active_refs_[ref] == 0) active_refs_.erase(ref);
    throw;
  }
  if (--active_refs_[ref] == 0) active_refs_.erase(ref);
  memo_.emplace(std::move(key), grammar);
  return grammar;
}

Grammar json_schema(const boost::json::value& schema, const JsonOptions& options) {
  return JsonSchemaCompiler(schema, options).compile();
}

}  // namespace tether::constrain
