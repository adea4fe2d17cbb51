#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "jinja/value.h"

// Python's and Jinja2's semantics for the operators and lookups the
// interpreter applies to values. Failures are Error(kInvalidArgument) with
// Python's wording ("'NoneType' object is not iterable").
namespace tether::jinja::ops {

bool equals(const Value& a, const Value& b);
// a < b; raises for types Python does not order.
bool less(const Value& a, const Value& b);
// `needle in haystack`
bool contains(const Value& haystack, const Value& needle);

Value add(const Value& a, const Value& b, size_t max_bytes);
Value subtract(const Value& a, const Value& b);
Value multiply(const Value& a, const Value& b, size_t max_bytes);
Value divide(const Value& a, const Value& b);
Value floor_divide(const Value& a, const Value& b);
Value modulo(const Value& a, const Value& b);
Value power(const Value& a, const Value& b);
Value negate(const Value& a);

// obj.name as Jinja2 resolves it: a dict key, else undefined (no error
// except on an undefined object).
Value get_attribute(const Value& object, const std::string& name);
// obj[key]: list/str index (negative from the end), dict key; missing or
// out-of-range gives undefined as in Jinja2.
Value get_item(const Value& object, const Value& key);
// obj[start:stop:step] for lists and strings.
Value slice(const Value& object, const Value& start, const Value& stop, const Value& step);
// The items a `for` loop visits: list items, dict keys, string characters;
// undefined is empty; anything else raises.
Array iterate(const Value& value);
// len(value); raises for values without a length.
size_t length(const Value& value);

}  // namespace tether::jinja::ops
