#pragma once

#include <cstddef>
#include <string>

#include "jinja/value.h"

namespace tether::jinja {

// Text forms of values exactly as Python writes them, since chat templates
// print values and the reference renderer is Python's Jinja2. Each stops with
// Error(kInvalidArgument) past `max_bytes` of output or on nesting deeper than
// kMaxFormatDepth (values can be cyclic through namespaces).
inline constexpr int kMaxFormatDepth = 128;

// str(value): strings as they are, None as "None", lists as their repr.
std::string python_str(const Value& value, size_t max_bytes);
// repr(value): strings quoted the way Python quotes them.
std::string python_repr(const Value& value, size_t max_bytes);
// repr(float): the shortest round-trip digits, "1.0", "1e-05", "inf".
std::string python_float(double value);

struct JsonOptions {
  int indent = -1;  // < 0: one line with ", " and ": " separators
  bool sort_keys = false;
  bool ensure_ascii = false;
  std::string item_separator;  // empty: Python's default for the indent mode
  std::string key_separator;
};

// json.dumps(value, ...) as Hugging Face's tojson filter calls it.
std::string to_json(const Value& value, const JsonOptions& options, size_t max_bytes);

}  // namespace tether::jinja
