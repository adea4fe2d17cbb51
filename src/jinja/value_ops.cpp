#include "jinja/value_ops.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "common/error.h"
#include "jinja/utf8.h"

namespace tether::jinja::ops {
namespace {

[[noreturn]] void unsupported(std::string_view op, const Value& a, const Value& b) {
  throw_error(ErrorCode::kInvalidArgument, "unsupported operand type(s) for {}: '{}' and '{}'", op,
              a.type_name(), b.type_name());
}

void reject_undefined(const Value& v) {
  if (v.is_undefined()) {
    if (v.undefined_hint().empty()) throw_error(ErrorCode::kInvalidArgument, "value is undefined");
    throw_error(ErrorCode::kInvalidArgument, "'{}' is undefined", v.undefined_hint());
  }
}

bool both_int(const Value& a, const Value& b) {
  return (a.is_int() || a.is_bool()) && (b.is_int() || b.is_bool());
}

void check_size(size_t size, size_t max_bytes) {
  if (size > max_bytes) throw_error(ErrorCode::kInvalidArgument, "value exceeds {} bytes", max_bytes);
}

int64_t floor_div_int(int64_t a, int64_t b) {
  if (b == 0) throw_error(ErrorCode::kInvalidArgument, "integer division or modulo by zero");
  if (a == std::numeric_limits<int64_t>::min() && b == -1)
    throw_error(ErrorCode::kInvalidArgument, "integer overflow");
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

// Python's slice index normalization for a sequence of `size` items.
void slice_indices(int64_t size, const Value& start, const Value& stop, const Value& step,
                   int64_t& out_start, int64_t& out_stop, int64_t& out_step) {
  auto as_index = [](const Value& v, const char* what) -> std::optional<int64_t> {
    if (v.is_undefined() || v.is_none()) return std::nullopt;
    if (!v.is_int() && !v.is_bool())
      throw_error(ErrorCode::kInvalidArgument, "slice {} must be an integer or None", what);
    return v.as_int();
  };
  out_step = as_index(step, "step").value_or(1);
  if (out_step == 0) throw_error(ErrorCode::kInvalidArgument, "slice step cannot be zero");
  if (out_step == std::numeric_limits<int64_t>::min()) out_step = -std::numeric_limits<int64_t>::max();
  auto clamp = [&](std::optional<int64_t> v, int64_t default_value) {
    if (!v) return default_value;
    int64_t i = *v;
    if (i < 0) {
      i = i < -size ? (out_step < 0 ? -1 : 0) : i + size;
    } else if (i >= size) {
      i = out_step < 0 ? size - 1 : size;
    }
    return i;
  };
  out_start = clamp(as_index(start, "start"), out_step < 0 ? size - 1 : 0);
  out_stop = clamp(as_index(stop, "stop"), out_step < 0 ? -1 : size);
}

}  // namespace

bool equals(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (both_int(a, b)) return a.as_int() == b.as_int();
    return a.as_double() == b.as_double();
  }
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case Value::Kind::kUndefined:
    case Value::Kind::kNone: return true;
    case Value::Kind::kString: return a.as_string() == b.as_string();
    case Value::Kind::kArray: {
      if (a.is_tuple() != b.is_tuple()) return false;
      const Array& x = a.as_array();
      const Array& y = b.as_array();
      if (x.size() != y.size()) return false;
      for (size_t i = 0; i < x.size(); ++i)
        if (!equals(x[i], y[i])) return false;
      return true;
    }
    case Value::Kind::kObject: {
      if (&a.as_object() == &b.as_object()) return true;
      if (a.is_namespace() || b.is_namespace()) return false;
      if (a.as_object().size() != b.as_object().size()) return false;
      for (const auto& [key, value] : a.as_object().entries()) {
        const Value* other = b.as_object().find(key);
        if (!other || !equals(value, *other)) return false;
      }
      return true;
    }
    case Value::Kind::kFunction: return &a.as_function() == &b.as_function();
    default: return false;
  }
}

bool less(const Value& a, const Value& b) {
  reject_undefined(a);
  reject_undefined(b);
  if (a.is_number() && b.is_number()) {
    if (both_int(a, b)) return a.as_int() < b.as_int();
    return a.as_double() < b.as_double();
  }
  if (a.is_string() && b.is_string()) return a.as_string() < b.as_string();  // UTF-8 order is code point order
  if (a.is_array() && b.is_array()) {
    const Array& x = a.as_array();
    const Array& y = b.as_array();
    for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
      if (equals(x[i], y[i])) continue;
      return less(x[i], y[i]);
    }
    return x.size() < y.size();
  }
  throw_error(ErrorCode::kInvalidArgument, "'<' not supported between instances of '{}' and '{}'",
              a.type_name(), b.type_name());
}

bool contains(const Value& haystack, const Value& needle) {
  switch (haystack.kind()) {
    case Value::Kind::kUndefined: return false;  // iterates as empty
    case Value::Kind::kString:
      if (!needle.is_string())
        throw_error(ErrorCode::kInvalidArgument, "'in <string>' requires string as left operand, not {}",
                    needle.type_name());
      return haystack.as_string().find(needle.as_string()) != std::string::npos;
    case Value::Kind::kArray:
      for (const Value& item : haystack.as_array())
        if (equals(item, needle)) return true;
      return false;
    case Value::Kind::kObject:
      return needle.is_string() && haystack.as_object().find(needle.as_string()) != nullptr;
    default:
      throw_error(ErrorCode::kInvalidArgument, "argument of type '{}' is not iterable", haystack.type_name());
  }
}

Value add(const Value& a, const Value& b, size_t max_bytes) {
  reject_undefined(a);
  reject_undefined(b);
  if (both_int(a, b)) {
    int64_t r;
    if (__builtin_add_overflow(a.as_int(), b.as_int(), &r)) throw_error(ErrorCode::kInvalidArgument, "integer overflow");
    return Value::integer(r);
  }
  if (a.is_number() && b.is_number()) return Value::floating(a.as_double() + b.as_double());
  if (a.is_string() && b.is_string()) {
    check_size(a.as_string().size() + b.as_string().size(), max_bytes);
    return Value::string(a.as_string() + b.as_string());
  }
  if (a.is_array() && b.is_array() && a.is_tuple() == b.is_tuple()) {
    check_size((a.as_array().size() + b.as_array().size()) * sizeof(Value), max_bytes);
    Array items = a.as_array();
    items.insert(items.end(), b.as_array().begin(), b.as_array().end());
    return a.is_tuple() ? Value::tuple(std::move(items)) : Value::array(std::move(items));
  }
  if (a.is_string() || b.is_string())
    throw_error(ErrorCode::kInvalidArgument, "can only concatenate str (not \"{}\") to str",
                a.is_string() ? b.type_name() : a.type_name());
  unsupported("+", a, b);
}

Value subtract(const Value& a, const Value& b) {
  reject_undefined(a);
  reject_undefined(b);
  if (both_int(a, b)) {
    int64_t r;
    if (__builtin_sub_overflow(a.as_int(), b.as_int(), &r)) throw_error(ErrorCode::kInvalidArgument, "integer overflow");
    return Value::integer(r);
  }
  if (a.is_number() && b.is_number()) return Value::floating(a.as_double() - b.as_double());
  unsupported("-", a, b);
}

Value multiply(const Value& a, const Value& b, size_t max_bytes) {
  reject_undefined(a);
  reject_undefined(b);
  if (both_int(a, b)) {
    int64_t r;
    if (__builtin_mul_overflow(a.as_int(), b.as_int(), &r)) throw_error(ErrorCode::kInvalidArgument, "integer overflow");
    return Value::integer(r);
  }
  if (a.is_number() && b.is_number() && !a.is_string()) return Value::floating(a.as_double() * b.as_double());
  const Value* seq = a.is_string() || a.is_array() ? &a : &b;
  const Value* count = seq == &a ? &b : &a;
  if ((seq->is_string() || seq->is_array()) && (count->is_int() || count->is_bool())) {
    const int64_t n = std::max<int64_t>(0, count->as_int());
    if (seq->is_string()) {
      const size_t unit = seq->as_string().size();
      if (unit != 0 && static_cast<uint64_t>(n) > max_bytes / unit) check_size(max_bytes + 1, max_bytes);
      std::string out;
      out.reserve(unit * static_cast<size_t>(n));
      for (int64_t i = 0; i < n; ++i) out += seq->as_string();
      return Value::string(std::move(out));
    }
    const size_t unit = seq->as_array().size() * sizeof(Value);
    if (unit != 0 && static_cast<uint64_t>(n) > max_bytes / unit) check_size(max_bytes + 1, max_bytes);
    Array items;
    for (int64_t i = 0; i < n; ++i) items.insert(items.end(), seq->as_array().begin(), seq->as_array().end());
    return seq->is_tuple() ? Value::tuple(std::move(items)) : Value::array(std::move(items));
  }
  unsupported("*", a, b);
}

Value divide(const Value& a, const Value& b) {
  reject_undefined(a);
  reject_undefined(b);
  if (!a.is_number() || !b.is_number()) unsupported("/", a, b);
  if (b.as_double() == 0) throw_error(ErrorCode::kInvalidArgument, "division by zero");
  return Value::floating(a.as_double() / b.as_double());
}

Value floor_divide(const Value& a, const Value& b) {
  reject_undefined(a);
  reject_undefined(b);
  if (both_int(a, b)) return Value::integer(floor_div_int(a.as_int(), b.as_int()));
  if (!a.is_number() || !b.is_number()) unsupported("//", a, b);
  if (b.as_double() == 0) throw_error(ErrorCode::kInvalidArgument, "float floor division by zero");
  return Value::floating(std::floor(a.as_double() / b.as_double()));
}

Value modulo(const Value& a, const Value& b) {
  reject_undefined(a);
  reject_undefined(b);
  if (both_int(a, b)) {
    const int64_t q = floor_div_int(a.as_int(), b.as_int());
    return Value::integer(a.as_int() - q * b.as_int());
  }
  if (!a.is_number() || !b.is_number()) unsupported("%", a, b);
  const double y = b.as_double();
  if (y == 0) throw_error(ErrorCode::kInvalidArgument, "float modulo");
  double r = std::fmod(a.as_double(), y);
  if (r != 0 && ((r < 0) != (y < 0))) r += y;
  return Value::floating(r);
}

Value power(const Value& a, const Value& b) {
  reject_undefined(a);
  reject_undefined(b);
  if (both_int(a, b) && b.as_int() >= 0) {
    int64_t result = 1;
    int64_t base = a.as_int();
    int64_t exp = b.as_int();
    while (exp > 0) {
      if (exp & 1)
        if (__builtin_mul_overflow(result, base, &result)) throw_error(ErrorCode::kInvalidArgument, "integer overflow");
      exp >>= 1;
      if (exp > 0 && __builtin_mul_overflow(base, base, &base)) throw_error(ErrorCode::kInvalidArgument, "integer overflow");
    }
    return Value::integer(result);
  }
  if (!a.is_number() || !b.is_number()) unsupported("**", a, b);
  if (a.as_double() == 0 && b.as_double() < 0)
    throw_error(ErrorCode::kInvalidArgument, "0.0 cannot be raised to a negative power");
  return Value::floating(std::pow(a.as_double(), b.as_double()));
}

Value negate(const Value& a) {
  reject_undefined(a);
  if (a.is_int() || a.is_bool()) {
    if (a.as_int() == std::numeric_limits<int64_t>::min()) throw_error(ErrorCode::kInvalidArgument, "integer overflow");
    return Value::integer(-a.as_int());
  }
  if (a.is_float()) return Value::floating(-a.as_double());
  throw_error(ErrorCode::kInvalidArgument, "bad operand type for unary -: '{}'", a.type_name());
}

Value get_attribute(const Value& object, const std::string& name) {
  reject_undefined(object);
  if (object.is_object()) {
    if (const Value* found = object.as_object().find(name)) return *found;
    return Value::undefined(name);
  }
  return Value::undefined(name);
}

Value get_item(const Value& object, const Value& key) {
  reject_undefined(object);
  if (object.is_object()) {
    if (key.is_string()) {
      if (const Value* found = object.as_object().find(key.as_string())) return *found;
      return Value::undefined(key.as_string());
    }
    return Value::undefined();
  }
  if ((object.is_array() || object.is_string()) && (key.is_int() || key.is_bool())) {
    int64_t index = key.as_int();
    if (object.is_array()) {
      const auto size = static_cast<int64_t>(object.as_array().size());
      if (index < 0) index += size;
      if (index < 0 || index >= size) return Value::undefined();
      return object.as_array()[static_cast<size_t>(index)];
    }
    const std::string& s = object.as_string();
    const std::vector<size_t> starts = utf8::boundaries(s);
    const auto size = static_cast<int64_t>(starts.size() - 1);
    if (index < 0) index += size;
    if (index < 0 || index >= size) return Value::undefined();
    const auto i = static_cast<size_t>(index);
    return Value::string(s.substr(starts[i], starts[i + 1] - starts[i]));
  }
  if (key.is_string()) return get_attribute(object, key.as_string());
  return Value::undefined();
}

Value slice(const Value& object, const Value& start, const Value& stop, const Value& step) {
  reject_undefined(object);
  int64_t from, to, stride;
  if (object.is_array()) {
    const Array& items = object.as_array();
    slice_indices(static_cast<int64_t>(items.size()), start, stop, step, from, to, stride);
    Array out;
    for (int64_t i = from; stride > 0 ? i < to : i > to; i += stride) out.push_back(items[static_cast<size_t>(i)]);
    return object.is_tuple() ? Value::tuple(std::move(out)) : Value::array(std::move(out));
  }
  if (object.is_string()) {
    const std::string& s = object.as_string();
    const std::vector<size_t> starts = utf8::boundaries(s);
    slice_indices(static_cast<int64_t>(starts.size() - 1), start, stop, step, from, to, stride);
    std::string out;
    if (stride == 1) {
      if (from < to) out = s.substr(starts[static_cast<size_t>(from)], starts[static_cast<size_t>(to)] - starts[static_cast<size_t>(from)]);
    } else {
      for (int64_t i = from; stride > 0 ? i < to : i > to; i += stride) {
        const auto u = static_cast<size_t>(i);
        out.append(s, starts[u], starts[u + 1] - starts[u]);
      }
    }
    return Value::string(std::move(out));
  }
  throw_error(ErrorCode::kInvalidArgument, "'{}' object is not subscriptable", object.type_name());
}

Array iterate(const Value& value) {
  switch (value.kind()) {
    case Value::Kind::kUndefined: return {};
    case Value::Kind::kArray: return value.as_array();
    case Value::Kind::kObject: {
      if (value.is_namespace()) break;
      Array keys;
      keys.reserve(value.as_object().size());
      for (const auto& entry : value.as_object().entries()) keys.push_back(Value::string(entry.first));
      return keys;
    }
    case Value::Kind::kString: {
      Array chars;
      const std::string& s = value.as_string();
      size_t pos = 0;
      while (pos < s.size()) {
        const size_t begin = pos;
        utf8::decode(s, pos);
        chars.push_back(Value::string(s.substr(begin, pos - begin)));
      }
      return chars;
    }
    default: break;
  }
  throw_error(ErrorCode::kInvalidArgument, "'{}' object is not iterable", value.type_name());
}

size_t length(const Value& value) {
  switch (value.kind()) {
    case Value::Kind::kUndefined: return 0;
    case Value::Kind::kString: return utf8::length(value.as_string());
    case Value::Kind::kArray: return value.as_array().size();
    case Value::Kind::kObject: return value.as_object().size();
    default:
      throw_error(ErrorCode::kInvalidArgument, "object of type '{}' has no len()", value.type_name());
  }
}

}  // namespace tether::jinja::ops
