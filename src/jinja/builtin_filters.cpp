#include "jinja/builtin_filters.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "common/error.h"
#include "jinja/builtin_tests.h"
#include "jinja/call_args_util.h"
#include "jinja/interpreter.h"
#include "jinja/text_util.h"
#include "jinja/utf8.h"
#include "jinja/value_format.h"
#include "jinja/value_ops.h"

namespace tether::jinja {
namespace {

constexpr std::array kFilters = {
    "abs", "attr", "capitalize", "count", "d", "default", "dictsort", "e", "escape", "first",
    "float", "format", "indent", "int", "items", "join", "last", "length", "list", "lower", "map",
    "max", "min", "reject", "rejectattr", "replace", "reverse", "round", "safe", "select",
    "selectattr", "sort", "string", "sum", "title", "tojson", "trim", "unique", "upper"};

std::string require_string(const Value& value, std::string_view filter) {
  if (value.is_string()) return value.as_string();
  throw_error(ErrorCode::kInvalidArgument, "filter '{}' needs a string, not '{}'", filter, value.type_name());
}

// str(value) as filters see it (soft_str): undefined is "".
std::string soft_str(Interpreter& interpreter, const Value& value) {
  return value.is_string() ? value.as_string() : python_str(value, interpreter.max_bytes());
}

// Follows a dotted attribute path ("function.name"); integer parts index.
Value attribute_path(const Value& item, const std::string& path) {
  Value current = item;
  size_t start = 0;
  while (true) {
    const size_t dot = path.find('.', start);
    const std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (current.is_undefined()) return current;
    if (!part.empty() && part.find_first_not_of("0123456789") == std::string::npos && part.size() < 10)
      current = ops::get_item(current, Value::integer(std::stoll(part)));
    else
      current = ops::get_item(current, Value::string(part));
    if (dot == std::string::npos) return current;
    start = dot + 1;
  }
}

Value lower_if_string(const Value& v, bool case_sensitive) {
  if (!case_sensitive && v.is_string()) return Value::string(text::lower(v.as_string()));
  return v;
}

// select/reject/selectattr/rejectattr share one walk.
Value select_items(Interpreter& interpreter, const Value& value, CallArgs& args, bool by_attribute, bool keep) {
  size_t next_arg = 0;
  std::string attribute;
  if (by_attribute) attribute = require_string(args::required(args, next_arg++, "attribute", "selectattr"), "selectattr");
  std::string test;
  if (next_arg < args.positional.size()) test = require_string(args.positional[next_arg++], "select");
  CallArgs test_args;
  for (size_t i = next_arg; i < args.positional.size(); ++i) test_args.positional.push_back(args.positional[i]);
  Array out;
  for (const Value& item : ops::iterate(value)) {
    interpreter.charge(1);
    const Value subject = by_attribute ? attribute_path(item, attribute) : item;
    const bool passed = test.empty() ? subject.truthy() : apply_test(interpreter, test, subject, test_args);
    if (passed == keep) out.push_back(item);
  }
  return Value::array(std::move(out));
}

Value map_items(Interpreter& interpreter, const Value& value, CallArgs& args) {
  Array out;
  if (const std::string* attribute = args::optional_string(args, SIZE_MAX, "attribute")) {
    const Value* fallback = args.find(SIZE_MAX, "default");
    for (const Value& item : ops::iterate(value)) {
      interpreter.charge(1);
      Value mapped = attribute_path(item, *attribute);
      if (mapped.is_undefined() && fallback) mapped = *fallback;
      out.push_back(std::move(mapped));
    }
    return Value::array(std::move(out));
  }
  const std::string filter = require_string(args::required(args, 0, "filter", "map"), "map");
  CallArgs filter_args;
  for (size_t i = 1; i < args.positional.size(); ++i) filter_args.positional.push_back(args.positional[i]);
  filter_args.keyword = args.keyword;
  for (const Value& item : ops::iterate(value)) {
    interpreter.charge(1);
    CallArgs copy = filter_args;
    out.push_back(apply_filter(interpreter, filter, item, copy));
  }
  return Value::array(std::move(out));
}

Value sort_items(Interpreter& interpreter, const Value& value, CallArgs& args) {
  const bool reverse = args::bool_or(args, 0, "reverse", false);
  const bool case_sensitive = args::bool_or(args, 1, "case_sensitive", false);
  const std::string* attribute = args::optional_string(args, 2, "attribute");
  Array items = ops::iterate(value);
  interpreter.charge(items.size() * 4);
  std::vector<std::pair<Value, Value>> keyed;
  keyed.reserve(items.size());
  for (Value& item : items) {
    Value key = attribute ? attribute_path(item, *attribute) : item;
    keyed.emplace_back(lower_if_string(key, case_sensitive), std::move(item));
  }
  std::stable_sort(keyed.begin(), keyed.end(), [&](const auto& a, const auto& b) {
    return reverse ? ops::less(b.first, a.first) : ops::less(a.first, b.first);
  });
  Array out;
  for (auto& entry : keyed) out.push_back(std::move(entry.second));
  return Value::array(std::move(out));
}

Value dictsort_items(Interpreter& interpreter, const Value& value, CallArgs& args) {
  if (!value.is_object()) throw_error(ErrorCode::kInvalidArgument, "dictsort needs a dict, not '{}'", value.type_name());
  const bool case_sensitive = args::bool_or(args, 0, "case_sensitive", false);
  const std::string by = args::string_or(args, 1, "by", "key");
  const bool reverse = args::bool_or(args, 2, "reverse", false);
  if (by != "key" && by != "value") throw_error(ErrorCode::kInvalidArgument, "You can only sort by either 'key' or 'value'");
  std::vector<std::pair<Value, Value>> keyed;
  for (const auto& [key, item] : value.as_object().entries()) {
    keyed.emplace_back(lower_if_string(by == "key" ? Value::string(key) : item, case_sensitive),
                       Value::tuple({Value::string(key), item}));
  }
  interpreter.charge(keyed.size() * 4);
  std::stable_sort(keyed.begin(), keyed.end(), [&](const auto& a, const auto& b) {
    return reverse ? ops::less(b.first, a.first) : ops::less(a.first, b.first);
  });
  Array out;
  for (auto& entry : keyed) out.push_back(std::move(entry.second));
  return Value::array(std::move(out));
}

Value min_max(const Value& value, CallArgs& args, bool want_max) {
  const bool case_sensitive = args::bool_or(args, 0, "case_sensitive", false);
  const std::string* attribute = args::optional_string(args, 1, "attribute");
  const Array items = ops::iterate(value);
  if (items.empty()) return Value::undefined("no items");
  size_t best = 0;
  auto key = [&](size_t i) {
    return lower_if_string(attribute ? attribute_path(items[i], *attribute) : items[i], case_sensitive);
  };
  for (size_t i = 1; i < items.size(); ++i) {
    const bool better = want_max ? ops::less(key(best), key(i)) : ops::less(key(i), key(best));
    if (better) best = i;
  }
  return items[best];
}

Value unique_items(Interpreter& interpreter, const Value& value, CallArgs& args) {
  const bool case_sensitive = args::bool_or(args, 0, "case_sensitive", false);
  const std::string* attribute = args::optional_string(args, 1, "attribute");
  Array out;
  std::vector<Value> seen;
  for (const Value& item : ops::iterate(value)) {
    const Value key = lower_if_string(attribute ? attribute_path(item, *attribute) : item, case_sensitive);
    bool duplicate = false;
    for (const Value& s : seen) {
      interpreter.charge(1);
      if (ops::equals(s, key)) {
        duplicate = true;
        break;
      }
    }
    if (duplicate) continue;
    seen.push_back(key);
    out.push_back(item);
  }
  return Value::array(std::move(out));
}

std::string indent_text(const std::string& s, CallArgs& args) {
  std::string indentation;
  const Value* width = args.find(0, "width");
  if (width && width->is_string()) indentation = width->as_string();
  else indentation.assign(static_cast<size_t>(std::clamp<int64_t>(args::int_or(args, 0, "width", 4), 0, 1024)), ' ');
  const bool first = args::bool_or(args, 1, "first", false);
  const bool blank = args::bool_or(args, 2, "blank", false);
  std::vector<std::string> lines = text::splitlines(s + "\n", false);
  std::string out;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i > 0) out += '\n';
    const bool indent_line = i == 0 ? first : (blank || !lines[i].empty());
    if (indent_line) out += indentation;
    out += lines[i];
  }
  return out;
}

// Python's printf-style formatting for the conversions templates use.
std::string printf_format(Interpreter& interpreter, const std::string& pattern, const CallArgs& args) {
  std::string out;
  size_t next = 0;
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] != '%') {
      out += pattern[i];
      continue;
    }
    if (++i >= pattern.size()) throw_error(ErrorCode::kInvalidArgument, "incomplete format");
    std::string spec = "%";
    while (i < pattern.size() && std::string_view("-+ 0#.0123456789").find(pattern[i]) != std::string_view::npos) {
      spec += pattern[i++];
      if (spec.size() > 8) throw_error(ErrorCode::kInvalidArgument, "format specification is too long");
    }
    if (i >= pattern.size()) throw_error(ErrorCode::kInvalidArgument, "incomplete format");
    const char conversion = pattern[i];
    if (conversion == '%') {
      out += '%';
      continue;
    }
    if (next >= args.positional.size()) throw_error(ErrorCode::kInvalidArgument, "not enough arguments for format string");
    const Value& arg = args.positional[next++];
    char buf[512];
    switch (conversion) {
      case 's': out += soft_str(interpreter, arg); break;
      case 'r': out += python_repr(arg, interpreter.max_bytes()); break;
      case 'd':
      case 'i':
        if (!arg.is_number()) throw_error(ErrorCode::kInvalidArgument, "%d format: a number is required, not {}", arg.type_name());
        std::snprintf(buf, sizeof buf, (spec + "lld").c_str(),
                      static_cast<long long>(arg.is_float() ? static_cast<long long>(arg.as_double()) : arg.as_int()));
        out += buf;
        break;
      case 'f':
      case 'F':
      case 'e':
      case 'g':
        if (!arg.is_number()) throw_error(ErrorCode::kInvalidArgument, "%f format: a number is required, not {}", arg.type_name());
        std::snprintf(buf, sizeof buf, (spec + conversion).c_str(), arg.as_double());
        out += buf;
        break;
      case 'x':
      case 'X':
        if (!arg.is_int()) throw_error(ErrorCode::kInvalidArgument, "%x format: an integer is required");
        std::snprintf(buf, sizeof buf, (spec + "ll" + conversion).c_str(), static_cast<long long>(arg.as_int()));
        out += buf;
        break;
      default:
        throw_error(ErrorCode::kInvalidArgument, "unsupported format character '{}'", conversion);
    }
    if (out.size() > interpreter.max_bytes())
      throw_error(ErrorCode::kInvalidArgument, "value exceeds {} bytes", interpreter.max_bytes());
  }
  if (next < args.positional.size())
    throw_error(ErrorCode::kInvalidArgument, "not all arguments converted during string formatting");
  return out;
}

Value to_int(const Value& value, CallArgs& args) {
  const int64_t fallback = args::int_or(args, 0, "default", 0);
  const int64_t base = args::int_or(args, 1, "base", 10);
  if (value.is_int() || value.is_bool()) return Value::integer(value.as_int());
  if (value.is_float()) {
    const double d = value.as_double();
    if (!std::isfinite(d) || std::fabs(d) >= 9.2e18) return Value::integer(fallback);
    return Value::integer(static_cast<int64_t>(d));
  }
  if (!value.is_string()) return Value::integer(fallback);
  std::string s = text::strip(value.as_string(), nullptr, true, true);
  s.erase(std::remove(s.begin(), s.end(), '_'), s.end());
  if (s.empty() || base < 2 || base > 36) return Value::integer(fallback);
  errno = 0;
  char* end = nullptr;
  const long long parsed = std::strtoll(s.c_str(), &end, static_cast<int>(base));
  if (errno == 0 && end == s.c_str() + s.size()) return Value::integer(parsed);
  // Jinja2 falls back to float parsing: "3.7" -> 3.
  const double d = std::strtod(s.c_str(), &end);
  if (end == s.c_str() + s.size() && std::isfinite(d) && std::fabs(d) < 9.2e18) return Value::integer(static_cast<int64_t>(d));
  return Value::integer(fallback);
}

Value to_float(const Value& value, CallArgs& args) {
  const Value* fallback_value = args.find(0, "default");
  const Value fallback = fallback_value ? *fallback_value : Value::floating(0.0);
  if (value.is_number()) return Value::floating(value.as_double());
  if (!value.is_string()) return fallback;
  const std::string s = text::strip(value.as_string(), nullptr, true, true);
  if (s.empty()) return fallback;
  char* end = nullptr;
  const double d = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size()) return fallback;
  return Value::floating(d);
}

Value round_value(const Value& value, CallArgs& args) {
  if (!value.is_number()) throw_error(ErrorCode::kInvalidArgument, "round needs a number, not '{}'", value.type_name());
  const int64_t precision = std::clamp<int64_t>(args::int_or(args, 0, "precision", 0), -300, 300);
  const std::string method = args::string_or(args, 1, "method", "common");
  const double scale = std::pow(10.0, static_cast<double>(precision));
  double x = value.as_double() * scale;
  if (method == "common") x = std::nearbyint(x);  // round-half-even, as Python's round
  else if (method == "ceil") x = std::ceil(x);
  else if (method == "floor") x = std::floor(x);
  else throw_error(ErrorCode::kInvalidArgument, "method must be common, ceil or floor");
  x /= scale;
  if (value.is_int() && method == "common") return Value::integer(static_cast<int64_t>(x));
  return Value::floating(x);
}

Value tojson(Interpreter& interpreter, const Value& value, CallArgs& args) {
  // Hugging Face's signature: tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False)
  JsonOptions options;
  options.ensure_ascii = args::bool_or(args, 0, "ensure_ascii", false);
  const Value* indent = args.find(1, "indent");
  if (indent && indent->is_string()) throw_error(ErrorCode::kInvalidArgument, "tojson: string indents are not supported");
  options.indent = indent && (indent->is_int() || indent->is_bool()) ? static_cast<int>(std::clamp<int64_t>(indent->as_int(), 0, 64)) : -1;
  if (const Value* separators = args.find(2, "separators"); separators && separators->is_array()) {
    const Array& parts = separators->as_array();
    if (parts.size() != 2 || !parts[0].is_string() || !parts[1].is_string())
      throw_error(ErrorCode::kInvalidArgument, "tojson: separators must be two strings");
    options.item_separator = parts[0].as_string();
    options.key_separator = parts[1].as_string();
    if (options.item_separator.empty() || options.key_separator.empty())
      throw_error(ErrorCode::kInvalidArgument, "tojson: empty separators are not supported");
  }
  options.sort_keys = args::bool_or(args, 3, "sort_keys", false);
  std::string text = to_json(value, options, interpreter.max_bytes());
  interpreter.charge(text.size() / 16);
  return Value::string(std::move(text));
}

}  // namespace

bool has_filter(std::string_view name) {
  for (std::string_view filter : kFilters)
    if (filter == name) return true;
  return false;
}

Value apply_filter(Interpreter& interpreter, std::string_view name, const Value& value, CallArgs& args) {
  if (name == "tojson") return tojson(interpreter, value, args);
  if (name == "safe") return value;
  if (name == "string") return Value::string(soft_str(interpreter, value));
  if (name == "trim")
    return Value::string(text::strip(soft_str(interpreter, value), args::optional_string(args, 0, "chars"), true, true));
  if (name == "length" || name == "count") return Value::integer(static_cast<int64_t>(ops::length(value)));
  if (name == "upper") return Value::string(text::upper(soft_str(interpreter, value)));
  if (name == "lower") return Value::string(text::lower(soft_str(interpreter, value)));
  if (name == "title") return Value::string(text::title(soft_str(interpreter, value)));
  if (name == "capitalize") return Value::string(text::capitalize(soft_str(interpreter, value)));
  if (name == "replace") {
    const Value& from = args::required(args, 0, "old", "replace");
    const Value& to = args::required(args, 1, "new", "replace");
    return Value::string(text::replace(soft_str(interpreter, value), soft_str(interpreter, from), soft_str(interpreter, to),
                                       args::int_or(args, 2, "count", -1), interpreter.max_bytes()));
  }
  if (name == "join") {
    const std::string separator = args::string_or(args, 0, "d", "");
    const std::string* attribute = args::optional_string(args, 1, "attribute");
    std::string out;
    bool first = true;
    for (const Value& item : ops::iterate(value)) {
      interpreter.charge(1);
      if (!first) out += separator;
      first = false;
      out += soft_str(interpreter, attribute ? attribute_path(item, *attribute) : item);
      if (out.size() > interpreter.max_bytes())
        throw_error(ErrorCode::kInvalidArgument, "value exceeds {} bytes", interpreter.max_bytes());
    }
    return Value::string(std::move(out));
  }
  if (name == "default" || name == "d") {
    const bool boolean = args::bool_or(args, 1, "boolean", false);
    if (value.is_undefined() || (boolean && !value.truthy())) {
      const Value* fallback = args.find(0, "default_value");
      return fallback ? *fallback : Value::string("");
    }
    return value;
  }
  if (name == "first" || name == "last") {
    if (value.is_undefined()) return Value::undefined(std::string(name));
    const Array items = ops::iterate(value);
    if (items.empty()) return Value::undefined(std::string(name));
    return name == "first" ? items.front() : items.back();
  }
  if (name == "list") {
    Array items = ops::iterate(value);
    interpreter.charge(items.size());
    return Value::array(std::move(items));
  }
  if (name == "int") return to_int(value, args);
  if (name == "float") return to_float(value, args);
  if (name == "items") {
    if (value.is_undefined()) return Value::array();
    if (!value.is_object() || value.is_namespace())
      throw_error(ErrorCode::kInvalidArgument, "items filter needs a mapping, not '{}'", value.type_name());
    Array out;
    for (const auto& [key, item] : value.as_object().entries()) out.push_back(Value::tuple({Value::string(key), item}));
    interpreter.charge(out.size());
    return Value::array(std::move(out));
  }
  if (name == "selectattr") return select_items(interpreter, value, args, true, true);
  if (name == "rejectattr") return select_items(interpreter, value, args, true, false);
  if (name == "select") return select_items(interpreter, value, args, false, true);
  if (name == "reject") return select_items(interpreter, value, args, false, false);
  if (name == "map") return map_items(interpreter, value, args);
  if (name == "dictsort") return dictsort_items(interpreter, value, args);
  if (name == "sort") return sort_items(interpreter, value, args);
  if (name == "unique") return unique_items(interpreter, value, args);
  if (name == "min" || name == "max") return min_max(value, args, name == "max");
  if (name == "reverse") {
    if (value.is_string()) {
      const std::string& s = value.as_string();
      const std::vector<size_t> starts = utf8::boundaries(s);
      std::string out;
      for (size_t i = starts.size() - 1; i-- > 0;) out.append(s, starts[i], starts[i + 1] - starts[i]);
      return Value::string(std::move(out));
    }
    Array items = ops::iterate(value);
    std::reverse(items.begin(), items.end());
    return Value::array(std::move(items));
  }
  if (name == "indent") return Value::string(indent_text(soft_str(interpreter, value), args));
  if (name == "abs") {
    if (value.is_float()) return Value::floating(std::fabs(value.as_double()));
    if (value.is_int() || value.is_bool()) return value.as_int() < 0 ? ops::negate(value) : Value::integer(value.as_int());
    throw_error(ErrorCode::kInvalidArgument, "bad operand type for abs(): '{}'", value.type_name());
  }
  if (name == "round") return round_value(value, args);
  if (name == "sum") {
    const std::string* attribute = args::optional_string(args, 0, "attribute");
    const Value* start = args.find(1, "start");
    Value total = start ? *start : Value::integer(0);
    for (const Value& item : ops::iterate(value)) {
      interpreter.charge(1);
      total = ops::add(total, attribute ? attribute_path(item, *attribute) : item, interpreter.max_bytes());
    }
    return total;
  }
  if (name == "format") return Value::string(printf_format(interpreter, soft_str(interpreter, value), args));
  if (name == "attr") {
    const std::string attribute = require_string(args::required(args, 0, "name", "attr"), "attr");
    return ops::get_attribute(value, attribute);
  }
  if (name == "e" || name == "escape") {
    std::string out;
    for (char c : soft_str(interpreter, value)) {
      switch (c) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '"': out += "&#34;"; break;
        case '\'': out += "&#39;"; break;
        default: out += c;
      }
    }
    return Value::string(std::move(out));
  }
  throw_error(ErrorCode::kInvalidArgument, "no filter named '{}'", name);
}

}  // namespace tether::jinja
