#include "jinja/builtin_tests.h"

#include <array>

#include "common/error.h"
#include "jinja/builtin_filters.h"
#include "jinja/call_args_util.h"
#include "jinja/value_ops.h"

namespace tether::jinja {
namespace {

constexpr std::array kTests = {
    "defined", "undefined", "none", "boolean", "false", "true", "integer", "float", "number",
    "string", "mapping", "iterable", "sequence", "callable", "sameas", "equalto", "eq", "==",
    "ne", "!=", "lt", "<", "le", "<=", "gt", ">", "ge", ">=", "in", "divisibleby", "odd", "even",
    "lower", "upper", "escaped", "filter", "test"};

bool is_lower(const std::string& s, bool want_lower) {
  bool cased = false;
  for (char c : s) {
    if (c >= 'a' && c <= 'z') {
      if (!want_lower) return false;
      cased = true;
    } else if (c >= 'A' && c <= 'Z') {
      if (want_lower) return false;
      cased = true;
    }
  }
  return cased;
}

}  // namespace

bool has_test(std::string_view name) {
  for (std::string_view test : kTests)
    if (test == name) return true;
  return false;
}

bool apply_test(Interpreter&, std::string_view name, const Value& value, CallArgs& args) {
  auto other = [&]() -> const Value& { return args::required(args, 0, "other", name); };
  if (name == "defined") return !value.is_undefined();
  if (name == "undefined") return value.is_undefined();
  if (name == "none") return value.is_none();
  if (name == "boolean") return value.is_bool();
  if (name == "false") return value.is_bool() && !value.as_bool();
  if (name == "true") return value.is_bool() && value.as_bool();
  if (name == "integer") return value.is_int();
  if (name == "float") return value.is_float();
  if (name == "number") return value.is_number();
  if (name == "string") return value.is_string();
  if (name == "mapping") return value.is_object() && !value.is_namespace();
  // Undefined iterates as empty and has a length (0), as Jinja2's Undefined does.
  if (name == "iterable") return value.is_undefined() || value.is_string() || value.is_array() || (value.is_object() && !value.is_namespace());
  if (name == "sequence") return value.is_undefined() || value.is_string() || value.is_array() || (value.is_object() && !value.is_namespace());
  if (name == "callable") return value.is_function();
  if (name == "sameas") {
    const Value& o = other();
    if (value.kind() != o.kind()) return false;
    switch (value.kind()) {
      case Value::Kind::kUndefined:
      case Value::Kind::kNone: return true;
      case Value::Kind::kBool: return value.as_bool() == o.as_bool();
      case Value::Kind::kArray: return &value.as_array() == &o.as_array();
      case Value::Kind::kObject: return &value.as_object() == &o.as_object();
      default: return ops::equals(value, o) && value.is_int();  // small ints are interned in CPython
    }
  }
  if (name == "equalto" || name == "eq" || name == "==") return ops::equals(value, other());
  if (name == "ne" || name == "!=") return !ops::equals(value, other());
  if (name == "lt" || name == "<") return ops::less(value, other());
  if (name == "le" || name == "<=") return ops::less(value, other()) || ops::equals(value, other());
  if (name == "gt" || name == ">") return ops::less(other(), value);
  if (name == "ge" || name == ">=") return ops::less(other(), value) || ops::equals(value, other());
  if (name == "in") return ops::contains(args::required(args, 0, "seq", name), value);
  if (name == "divisibleby") {
    const Value& n = args::required(args, 0, "num", name);
    if (!(value.is_int() || value.is_bool()) || !(n.is_int() || n.is_bool()))
      return ops::equals(ops::modulo(value, n), Value::integer(0));
    if (n.as_int() == 0) throw_error(ErrorCode::kInvalidArgument, "integer division or modulo by zero");
    return ops::equals(ops::modulo(value, n), Value::integer(0));
  }
  if (name == "odd" || name == "even") {
    if (!value.is_number()) throw_error(ErrorCode::kInvalidArgument, "'{}' test needs a number", name);
    const Value r = ops::modulo(value, Value::integer(2));
    return ops::equals(r, Value::integer(name == "odd" ? 1 : 0));
  }
  if (name == "lower" || name == "upper") return value.is_string() && is_lower(value.as_string(), name == "lower");
  if (name == "escaped") return false;
  if (name == "filter") return value.is_string() && has_filter(value.as_string());
  if (name == "test") return value.is_string() && has_test(value.as_string());
  throw_error(ErrorCode::kInvalidArgument, "no test named '{}'", name);
}

}  // namespace tether::jinja
