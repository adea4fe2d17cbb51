#include "jinja/builtin_methods.h"

#include <string_view>

#include "common/error.h"
#include "jinja/call_args_util.h"
#include "jinja/interpreter.h"
#include "jinja/text_util.h"
#include "jinja/utf8.h"
#include "jinja/value_format.h"
#include "jinja/value_ops.h"

namespace tether::jinja {
namespace {

Value string_list(std::vector<std::string> parts) {
  Array items;
  items.reserve(parts.size());
  for (auto& part : parts) items.push_back(Value::string(std::move(part)));
  return Value::array(std::move(items));
}

// startswith/endswith accept a string or a tuple of strings.
bool affix_matches(const std::string& s, const Value& affix, bool prefix) {
  auto one = [&](const Value& v) {
    if (!v.is_string())
      throw_error(ErrorCode::kInvalidArgument, "{} arg must be str or a tuple of str, not {}",
                  prefix ? "startswith" : "endswith", v.type_name());
    const std::string& a = v.as_string();
    if (a.size() > s.size()) return false;
    return prefix ? s.compare(0, a.size(), a) == 0 : s.compare(s.size() - a.size(), a.size(), a) == 0;
  };
  if (affix.is_array()) {
    for (const Value& v : affix.as_array())
      if (one(v)) return true;
    return false;
  }
  return one(affix);
}

// str.format with {} / {0} / {name} fields (no format specs).
std::string python_format(Interpreter& interpreter, const std::string& pattern, const CallArgs& args) {
  std::string out;
  size_t auto_index = 0;
  for (size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '{' && i + 1 < pattern.size() && pattern[i + 1] == '{') {
      out += '{';
      ++i;
      continue;
    }
    if (c == '}' && i + 1 < pattern.size() && pattern[i + 1] == '}') {
      out += '}';
      ++i;
      continue;
    }
    if (c != '{') {
      out += c;
      continue;
    }
    const size_t close = pattern.find('}', i);
    if (close == std::string::npos) throw_error(ErrorCode::kInvalidArgument, "single '{{' encountered in format string");
    const std::string field = pattern.substr(i + 1, close - i - 1);
    const Value* value = nullptr;
    if (field.empty()) {
      value = auto_index < args.positional.size() ? &args.positional[auto_index] : nullptr;
      ++auto_index;
    } else if (field.find_first_not_of("0123456789") == std::string::npos && field.size() < 9) {
      const size_t index = std::stoul(field);
      value = index < args.positional.size() ? &args.positional[index] : nullptr;
    } else {
      for (const auto& [key, v] : args.keyword)
        if (key == field) value = &v;
    }
    if (!value) throw_error(ErrorCode::kInvalidArgument, "format field '{}' has no argument", field);
    out += python_str(*value, interpreter.max_bytes());
    if (out.size() > interpreter.max_bytes())
      throw_error(ErrorCode::kInvalidArgument, "value exceeds {} bytes", interpreter.max_bytes());
    i = close;
  }
  return out;
}

std::optional<Value> string_method(const Value& object, const std::string& name) {
  auto bind = [&](auto body) {
    return Value::function(name, [object, body](Interpreter& interpreter, CallArgs& args) {
      return body(interpreter, object.as_string(), args);
    });
  };
  if (name == "strip" || name == "lstrip" || name == "rstrip") {
    const bool left = name != "rstrip";
    const bool right = name != "lstrip";
    return bind([left, right](Interpreter&, const std::string& s, CallArgs& args) {
      return Value::string(text::strip(s, args::optional_string(args, 0, "chars"), left, right));
    });
  }
  if (name == "split" || name == "rsplit") {
    const bool from_right = name == "rsplit";
    return bind([from_right](Interpreter& interpreter, const std::string& s, CallArgs& args) {
      const std::string* sep = args::optional_string(args, 0, "sep");
      const int64_t max_split = args::int_or(args, 1, "maxsplit", -1);
      Value parts = string_list(from_right ? text::rsplit(s, sep, max_split) : text::split(s, sep, max_split));
      interpreter.charge(parts.as_array().size());
      return parts;
    });
  }
  if (name == "splitlines")
    return bind([](Interpreter&, const std::string& s, CallArgs& args) {
      return string_list(text::splitlines(s, args::bool_or(args, 0, "keepends", false)));
    });
  if (name == "startswith" || name == "endswith") {
    const bool prefix = name == "startswith";
    return bind([prefix, name](Interpreter&, const std::string& s, CallArgs& args) {
      return Value::boolean(affix_matches(s, args::required(args, 0, prefix ? "prefix" : "suffix", name), prefix));
    });
  }
  if (name == "upper") return bind([](Interpreter&, const std::string& s, CallArgs&) { return Value::string(text::upper(s)); });
  if (name == "lower") return bind([](Interpreter&, const std::string& s, CallArgs&) { return Value::string(text::lower(s)); });
  if (name == "title") return bind([](Interpreter&, const std::string& s, CallArgs&) { return Value::string(text::title(s)); });
  if (name == "capitalize")
    return bind([](Interpreter&, const std::string& s, CallArgs&) { return Value::string(text::capitalize(s)); });
  if (name == "replace")
    return bind([](Interpreter& interpreter, const std::string& s, CallArgs& args) {
      const Value& from = args::required(args, 0, "old", "replace");
      const Value& to = args::required(args, 1, "new", "replace");
      if (!from.is_string() || !to.is_string())
        throw_error(ErrorCode::kInvalidArgument, "replace() arguments must be strings");
      return Value::string(text::replace(s, from.as_string(), to.as_string(), args::int_or(args, 2, "count", -1),
                                         interpreter.max_bytes()));
    });
  if (name == "find" || name == "rfind" || name == "count") {
    return bind([name](Interpreter&, const std::string& s, CallArgs& args) {
      const Value& needle = args::required(args, 0, "sub", name);
      if (!needle.is_string()) throw_error(ErrorCode::kInvalidArgument, "{}() argument must be str", name);
      const std::string& n = needle.as_string();
      if (name == "count") {
        if (n.empty()) return Value::integer(static_cast<int64_t>(utf8::length(s) + 1));
        int64_t count = 0;
        for (size_t pos = s.find(n); pos != std::string::npos; pos = s.find(n, pos + n.size())) ++count;
        return Value::integer(count);
      }
      const size_t pos = name == "find" ? s.find(n) : s.rfind(n);
      if (pos == std::string::npos) return Value::integer(-1);
      return Value::integer(static_cast<int64_t>(utf8::length(std::string_view(s).substr(0, pos))));
    });
  }
  if (name == "format")
    return bind([](Interpreter& interpreter, const std::string& s, CallArgs& args) {
      return Value::string(python_format(interpreter, s, args));
    });
  if (name == "join")
    return bind([](Interpreter& interpreter, const std::string& s, CallArgs& args) {
      const Value& items = args::required(args, 0, "iterable", "join");
      std::string out;
      bool first = true;
      for (const Value& item : ops::iterate(items)) {
        if (!item.is_string())
          throw_error(ErrorCode::kInvalidArgument, "sequence item: expected str instance, {} found", item.type_name());
        if (!first) out += s;
        first = false;
        out += item.as_string();
        if (out.size() > interpreter.max_bytes())
          throw_error(ErrorCode::kInvalidArgument, "value exceeds {} bytes", interpreter.max_bytes());
      }
      return Value::string(std::move(out));
    });
  if (name == "isdigit" || name == "isalpha" || name == "isalnum" || name == "isspace" || name == "islower" ||
      name == "isupper") {
    return bind([name](Interpreter&, const std::string& s, CallArgs&) {
      if (s.empty()) return Value::boolean(false);
      bool has_cased = false;
      for (char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        const bool digit = c >= '0' && c <= '9';
        const bool lower = c >= 'a' && c <= 'z';
        const bool upper = c >= 'A' && c <= 'Z';
        const bool space = c == ' ' || (c >= 9 && c <= 13);
        if (name == "isdigit" && !digit) return Value::boolean(false);
        if (name == "isalpha" && !(lower || upper)) return Value::boolean(false);
        if (name == "isalnum" && !(lower || upper || digit)) return Value::boolean(false);
        if (name == "isspace" && !space) return Value::boolean(false);
        if (name == "islower" && upper) return Value::boolean(false);
        if (name == "isupper" && lower) return Value::boolean(false);
        has_cased = has_cased || lower || upper;
      }
      if (name == "islower" || name == "isupper") return Value::boolean(has_cased);
      return Value::boolean(true);
    });
  }
  return std::nullopt;
}

std::optional<Value> dict_method(const Value& object, const std::string& name) {
  if (name == "get")
    return Value::function(name, [object](Interpreter&, CallArgs& args) {
      const Value& key = args::required(args, 0, "key", "get");
      if (key.is_string())
        if (const Value* found = object.as_object().find(key.as_string())) return *found;
      const Value* fallback = args.find(1, "default");
      return fallback ? *fallback : Value::none();
    });
  if (name == "items" || name == "keys" || name == "values") {
    return Value::function(name, [object, name](Interpreter& interpreter, CallArgs&) {
      Array out;
      out.reserve(object.as_object().size());
      for (const auto& [key, value] : object.as_object().entries()) {
        if (name == "items") out.push_back(Value::tuple({Value::string(key), value}));
        else if (name == "keys") out.push_back(Value::string(key));
        else out.push_back(value);
      }
      interpreter.charge(out.size());
      return Value::array(std::move(out));
    });
  }
  return std::nullopt;
}

}  // namespace

std::optional<Value> bound_method(const Value& object, const std::string& name) {
  if (object.is_string()) return string_method(object, name);
  if (object.is_object() && !object.is_namespace()) return dict_method(object, name);
  return std::nullopt;
}

}  // namespace tether::jinja
