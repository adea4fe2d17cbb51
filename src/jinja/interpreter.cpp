#include "jinja/interpreter.h"

#include "common/error.h"
#include "jinja/builtin_filters.h"
#include "jinja/builtin_globals.h"
#include "jinja/builtin_methods.h"
#include "jinja/builtin_tests.h"
#include "jinja/lexer.h"
#include "jinja/value_format.h"
#include "jinja/value_ops.h"

namespace tether::jinja {

// Counts nested evaluation so recursion (macros calling themselves, deep
// expressions) stops with an error before the stack runs out.
class DepthGuard {
 public:
  explicit DepthGuard(Interpreter& interpreter) : interpreter_(interpreter) {
    if (++interpreter_.depth_ > interpreter_.options_.limits.max_depth) {
      --interpreter_.depth_;
      throw_error(ErrorCode::kInvalidArgument, "template recursion deeper than {} levels",
                  interpreter_.options_.limits.max_depth);
    }
  }
  ~DepthGuard() { --interpreter_.depth_; }
  DepthGuard(const DepthGuard&) = delete;
  DepthGuard& operator=(const DepthGuard&) = delete;

 private:
  Interpreter& interpreter_;
};

namespace {

// Thrown by exec for `raise_exception` and friends is a plain Error; this
// marker keeps the position from being added twice when errors propagate
// through nested renders (macros).
constexpr std::string_view kErrorPrefix = "template error at ";

}  // namespace

Interpreter::Interpreter(std::string_view source, const Object& variables, const RenderOptions& options)
    : source_(source), variables_(variables), options_(options) {}

void Interpreter::render(const StmtList& body, std::string& out) {
  scopes_.clear();
  scopes_.emplace_back();
  try {
    exec_body(body, out);
  } catch (const Error& e) {
    std::string_view message = e.what();
    if (message.substr(0, kErrorPrefix.size()) == kErrorPrefix) throw;
    throw_error(ErrorCode::kInvalidArgument, "{}{}: {}", kErrorPrefix,
                describe_position(source_, error_offset_), message);
  }
}

void Interpreter::charge(uint64_t steps) {
  steps_ += steps;
  if (steps_ > options_.limits.max_steps)
    throw_error(ErrorCode::kInvalidArgument, "template exceeded {} evaluation steps",
                options_.limits.max_steps);
}

void Interpreter::append_output(std::string& out, std::string_view text) {
  if (out.size() + text.size() > options_.limits.max_output_bytes)
    throw_error(ErrorCode::kInvalidArgument, "template output exceeds {} bytes",
                options_.limits.max_output_bytes);
  out.append(text);
}

Value Interpreter::lookup(std::string_view name) const {
  for (size_t i = scopes_.size(); i-- > 0;) {
    for (const auto& [key, value] : scopes_[i].variables)
      if (key == name) return value;
    if (scopes_[i].barrier && i > 0) {
      // A macro sees template-level variables, not its caller's locals.
      for (const auto& [key, value] : scopes_[0].variables)
        if (key == name) return value;
      break;
    }
  }
  if (const Value* found = variables_.find(name)) return *found;
  if (const Value* found = builtin_globals().find(name)) return *found;
  return Value::undefined(std::string(name));
}

void Interpreter::assign(const std::string& name, Value value) {
  auto& variables = scopes_.back().variables;
  for (auto& entry : variables) {
    if (entry.first == name) {
      entry.second = std::move(value);
      return;
    }
  }
  variables.emplace_back(name, std::move(value));
}

Interpreter::Flow Interpreter::exec_body(const StmtList& body, std::string& out) {
  for (const auto& stmt : body) {
    const Flow flow = exec(*stmt, out);
    if (flow != Flow::kNormal) return flow;
  }
  return Flow::kNormal;
}

Interpreter::Flow Interpreter::exec(const Stmt& stmt, std::string& out) {
  DepthGuard guard(*this);
  charge(1);
  switch (stmt.kind) {
    case Stmt::Kind::kText:
      append_output(out, stmt.text);
      return Flow::kNormal;
    case Stmt::Kind::kOutput: {
      const Value value = eval(*stmt.expr);
      if (value.is_string()) append_output(out, value.as_string());
      else append_output(out, python_str(value, max_bytes()));
      return Flow::kNormal;
    }
    case Stmt::Kind::kIf:
      for (size_t i = 0; i < stmt.conditions.size(); ++i)
        if (eval(*stmt.conditions[i]).truthy()) return exec_body(stmt.bodies[i], out);
      if (stmt.bodies.size() > stmt.conditions.size()) return exec_body(stmt.bodies.back(), out);
      return Flow::kNormal;
    case Stmt::Kind::kFor:
      return exec_for(stmt, out);
    case Stmt::Kind::kSet:
      exec_set(stmt);
      return Flow::kNormal;
    case Stmt::Kind::kSetBlock: {
      std::string text;
      const Flow flow = exec_body(stmt.bodies[0], text);
      Value value = Value::string(std::move(text));
      if (stmt.expr) value = eval_filter(*stmt.expr, &value);
      assign(stmt.targets[0], std::move(value));
      return flow;
    }
    case Stmt::Kind::kMacro: {
      const Stmt* macro = &stmt;
      assign(stmt.targets[0], Value::function(stmt.targets[0], [macro](Interpreter& interpreter, CallArgs& args) {
               return interpreter.call_macro(*macro, args);
             }));
      return Flow::kNormal;
    }
    case Stmt::Kind::kBreak:
      return Flow::kBreak;
    case Stmt::Kind::kContinue:
      return Flow::kContinue;
    case Stmt::Kind::kFilterBlock: {
      std::string text;
      const Flow flow = exec_body(stmt.bodies[0], text);
      const Value block = Value::string(std::move(text));
      const Value value = eval_filter(*stmt.expr, &block);
      append_output(out, python_str(value, max_bytes()));
      return flow;
    }
    case Stmt::Kind::kPassThrough:
    case Stmt::Kind::kCallBlock:
      return exec_body(stmt.bodies[0], out);
  }
  return Flow::kNormal;
}

Interpreter::Flow Interpreter::exec_for(const Stmt& stmt, std::string& out) {
  error_offset_ = stmt.offset;
  if (stmt.recursive)
    throw_error(ErrorCode::kInvalidArgument, "recursive for loops are not supported");
  const Value iterable = eval(*stmt.expr);
  Array items = ops::iterate(iterable);
  charge(items.size());
  scopes_.emplace_back();
  auto bind_targets = [&](const Value& item) {
    if (stmt.targets.size() == 1) {
      assign(stmt.targets[0], item);
      return;
    }
    Array parts;
    if (item.is_array()) parts = item.as_array();
    else parts = ops::iterate(item);
    if (parts.size() != stmt.targets.size())
      throw_error(ErrorCode::kInvalidArgument, "cannot unpack {} values into {} loop variables",
                  parts.size(), stmt.targets.size());
    for (size_t i = 0; i < parts.size(); ++i) assign(stmt.targets[i], parts[i]);
  };
  if (stmt.condition) {
    Array kept;
    for (const Value& item : items) {
      charge(1);
      bind_targets(item);
      if (eval(*stmt.condition).truthy()) kept.push_back(item);
    }
    items = std::move(kept);
  }
  const size_t count = items.size();
  Flow result = Flow::kNormal;
  for (size_t index = 0; index < count; ++index) {
    charge(1);
    bind_targets(items[index]);
    Object loop;
    const auto n = static_cast<int64_t>(count);
    const auto i = static_cast<int64_t>(index);
    loop.set("index", Value::integer(i + 1));
    loop.set("index0", Value::integer(i));
    loop.set("revindex", Value::integer(n - i));
    loop.set("revindex0", Value::integer(n - i - 1));
    loop.set("first", Value::boolean(index == 0));
    loop.set("last", Value::boolean(index + 1 == count));
    loop.set("length", Value::integer(n));
    loop.set("depth", Value::integer(1));
    loop.set("depth0", Value::integer(0));
    loop.set("previtem", index > 0 ? items[index - 1] : Value::undefined("previtem"));
    loop.set("nextitem", index + 1 < count ? items[index + 1] : Value::undefined("nextitem"));
    loop.set("cycle", Value::function("cycle", [index](Interpreter&, CallArgs& args) {
               if (args.positional.empty())
                 throw_error(ErrorCode::kInvalidArgument, "no items for cycling given");
               return args.positional[index % args.positional.size()];
             }));
    assign("loop", Value::object(std::move(loop)));
    const Flow flow = exec_body(stmt.bodies[0], out);
    if (flow == Flow::kBreak) break;
  }
  scopes_.pop_back();
  if (count == 0 && stmt.bodies.size() > 1) result = exec_body(stmt.bodies[1], out);
  return result;
}

void Interpreter::exec_set(const Stmt& stmt) {
  error_offset_ = stmt.offset;
  Value value = eval(*stmt.expr);
  if (!stmt.attribute.empty()) {
    Value target = lookup(stmt.targets[0]);
    if (!target.is_namespace())
      throw_error(ErrorCode::kInvalidArgument, "cannot assign attribute on non-namespace object '{}'",
                  stmt.targets[0]);
    target.mutable_object().set(stmt.attribute, std::move(value));
    return;
  }
  if (stmt.targets.size() == 1) {
    assign(stmt.targets[0], std::move(value));
    return;
  }
  const Array parts = ops::iterate(value);
  if (parts.size() != stmt.targets.size())
    throw_error(ErrorCode::kInvalidArgument, "cannot unpack {} values into {} variables", parts.size(),
                stmt.targets.size());
  for (size_t i = 0; i < parts.size(); ++i) assign(stmt.targets[i], parts[i]);
}

Value Interpreter::call_macro(const Stmt& macro, CallArgs& args) {
  DepthGuard guard(*this);
  const std::string& name = macro.targets[0];
  if (args.positional.size() > macro.params.size())
    throw_error(ErrorCode::kInvalidArgument, "macro '{}' takes not more than {} argument(s)", name,
                macro.params.size());
  for (const auto& [key, value] : args.keyword) {
    bool known = false;
    for (const MacroParam& param : macro.params) known = known || param.name == key;
    if (!known) throw_error(ErrorCode::kInvalidArgument, "macro '{}' takes no keyword argument '{}'", name, key);
  }
  // Defaults are evaluated in the caller's scope before the macro's opens.
  std::vector<Value> bound;
  bound.reserve(macro.params.size());
  for (size_t i = 0; i < macro.params.size(); ++i) {
    const MacroParam& param = macro.params[i];
    if (const Value* given = args.find(i, param.name)) bound.push_back(*given);
    else if (param.default_value) bound.push_back(eval(*param.default_value));
    else bound.push_back(Value::undefined(param.name));
  }
  Scope scope;
  scope.barrier = true;
  for (size_t i = 0; i < macro.params.size(); ++i) scope.variables.emplace_back(macro.params[i].name, std::move(bound[i]));
  scopes_.push_back(std::move(scope));
  std::string text;
  try {
    exec_body(macro.bodies[0], text);
  } catch (...) {
    scopes_.pop_back();
    throw;
  }
  scopes_.pop_back();
  return Value::string(std::move(text));
}

Value Interpreter::call(const Value& callee, CallArgs& args) {
  if (callee.is_undefined()) {
    if (callee.undefined_hint().empty()) throw_error(ErrorCode::kInvalidArgument, "undefined value is not callable");
    throw_error(ErrorCode::kInvalidArgument, "'{}' is undefined", callee.undefined_hint());
  }
  if (!callee.is_function())
    throw_error(ErrorCode::kInvalidArgument, "'{}' object is not callable", callee.type_name());
  return callee.as_function().call(*this, args);
}

Value Interpreter::eval_call(const Expr& expr) {
  const Expr& target = *expr.items[0];
  Value callee;
  if (target.kind == Expr::Kind::kAttribute) {
    // obj.method(...): Python attributes (str.strip, dict.items) win over keys.
    const Value object = eval(*target.items[0]);
    if (auto method = bound_method(object, target.name)) callee = std::move(*method);
    else callee = ops::get_attribute(object, target.name);
  } else {
    callee = eval(target);
  }
  CallArgs args;
  args.positional.reserve(expr.items.size() - 1);
  for (size_t i = 1; i < expr.items.size(); ++i) args.positional.push_back(eval(*expr.items[i]));
  for (const auto& [name, value] : expr.keywords) args.keyword.emplace_back(name, eval(*value));
  error_offset_ = expr.offset;
  return call(callee, args);
}

Value Interpreter::eval_filter(const Expr& expr, const Value* block_text) {
  Value operand;
  const Expr* inner = expr.items[0].get();
  if (!inner) operand = block_text ? *block_text : Value();
  else if (block_text && inner->kind == Expr::Kind::kFilter) operand = eval_filter(*inner, block_text);
  else operand = eval(*inner);
  CallArgs args;
  for (size_t i = 1; i < expr.items.size(); ++i) args.positional.push_back(eval(*expr.items[i]));
  for (const auto& [name, value] : expr.keywords) args.keyword.emplace_back(name, eval(*value));
  error_offset_ = expr.offset;
  return apply_filter(*this, expr.name, operand, args);
}

bool Interpreter::eval_compare(const Expr& expr) {
  Value left = eval(*expr.items[0]);
  for (size_t i = 0; i < expr.ops.size(); ++i) {
    Value right = eval(*expr.items[i + 1]);
    const std::string& op = expr.ops[i];
    error_offset_ = expr.offset;
    bool result;
    if (op == "==") result = ops::equals(left, right);
    else if (op == "!=") result = !ops::equals(left, right);
    else if (op == "<") result = ops::less(left, right);
    else if (op == ">") result = ops::less(right, left);
    else if (op == "<=") result = ops::less(left, right) || ops::equals(left, right);
    else if (op == ">=") result = ops::less(right, left) || ops::equals(left, right);
    else if (op == "in") result = ops::contains(right, left);
    else result = !ops::contains(right, left);
    if (!result) return false;
    left = std::move(right);
  }
  return true;
}

Value Interpreter::eval(const Expr& expr) {
  DepthGuard guard(*this);
  charge(1);
  error_offset_ = expr.offset;
  switch (expr.kind) {
    case Expr::Kind::kLiteral:
      return expr.literal;
    case Expr::Kind::kName:
      return lookup(expr.name);
    case Expr::Kind::kList:
    case Expr::Kind::kTuple: {
      Array items;
      items.reserve(expr.items.size());
      for (const auto& item : expr.items) items.push_back(eval(*item));
      return expr.kind == Expr::Kind::kTuple ? Value::tuple(std::move(items)) : Value::array(std::move(items));
    }
    case Expr::Kind::kDict: {
      Object object;
      for (size_t i = 0; i + 1 < expr.items.size(); i += 2) {
        Value key = eval(*expr.items[i]);
        if (!key.is_string())
          throw_error(ErrorCode::kInvalidArgument, "dict keys must be strings, not '{}'", key.type_name());
        object.set(key.as_string(), eval(*expr.items[i + 1]));
      }
      return Value::object(std::move(object));
    }
    case Expr::Kind::kAttribute: {
      const Value object = eval(*expr.items[0]);
      error_offset_ = expr.offset;
      if (object.is_object() && !object.is_namespace()) {
        // Jinja2 tries the Python attribute first: d.items is the method.
        if (auto method = bound_method(object, expr.name)) return *method;
        return ops::get_attribute(object, expr.name);
      }
      if (auto method = bound_method(object, expr.name)) return *method;
      return ops::get_attribute(object, expr.name);
    }
    case Expr::Kind::kSubscript: {
      const Value object = eval(*expr.items[0]);
      const Value key = eval(*expr.items[1]);
      error_offset_ = expr.offset;
      Value found = ops::get_item(object, key);
      if (found.is_undefined() && key.is_string()) {
        if (auto method = bound_method(object, key.as_string())) return *method;
      }
      return found;
    }
    case Expr::Kind::kSlice: {
      const Value object = eval(*expr.items[0]);
      const Value start = expr.items[1] ? eval(*expr.items[1]) : Value::none();
      const Value stop = expr.items[2] ? eval(*expr.items[2]) : Value::none();
      const Value step = expr.items[3] ? eval(*expr.items[3]) : Value::none();
      error_offset_ = expr.offset;
      Value result = ops::slice(object, start, stop, step);
      if (result.is_array()) charge(result.as_array().size());
      else if (result.is_string()) charge(result.as_string().size() / 16);
      return result;
    }
    case Expr::Kind::kCall:
      return eval_call(expr);
    case Expr::Kind::kFilter:
      return eval_filter(expr, nullptr);
    case Expr::Kind::kTest: {
      const Value operand = eval(*expr.items[0]);
      CallArgs args;
      for (size_t i = 1; i < expr.items.size(); ++i) args.positional.push_back(eval(*expr.items[i]));
      for (const auto& [name, value] : expr.keywords) args.keyword.emplace_back(name, eval(*value));
      error_offset_ = expr.offset;
      const bool result = apply_test(*this, expr.name, operand, args);
      return Value::boolean(result != expr.negated);
    }
    case Expr::Kind::kUnary: {
      const Value operand = eval(*expr.items[0]);
      error_offset_ = expr.offset;
      if (expr.name == "not") return Value::boolean(!operand.truthy());
      if (expr.name == "-") return ops::negate(operand);
      if (!operand.is_number())
        throw_error(ErrorCode::kInvalidArgument, "bad operand type for unary +: '{}'", operand.type_name());
      return operand.is_bool() ? Value::integer(operand.as_int()) : operand;
    }
    case Expr::Kind::kBinary: {
      const std::string& op = expr.name;
      Value left = eval(*expr.items[0]);
      if (op == "and") return left.truthy() ? eval(*expr.items[1]) : left;
      if (op == "or") return left.truthy() ? left : eval(*expr.items[1]);
      const Value right = eval(*expr.items[1]);
      error_offset_ = expr.offset;
      Value result;
      if (op == "~") {
        std::string text = python_str(left, max_bytes());
        text += python_str(right, max_bytes());
        if (text.size() > max_bytes())
          throw_error(ErrorCode::kInvalidArgument, "value exceeds {} bytes", max_bytes());
        result = Value::string(std::move(text));
      } else if (op == "+") {
        result = ops::add(left, right, max_bytes());
      } else if (op == "-") {
        result = ops::subtract(left, right);
      } else if (op == "*") {
        result = ops::multiply(left, right, max_bytes());
      } else if (op == "/") {
        result = ops::divide(left, right);
      } else if (op == "//") {
        result = ops::floor_divide(left, right);
      } else if (op == "%") {
        if (left.is_string()) {
          // printf-style formatting: "%s and %s" % (a, b)
          CallArgs args;
          if (right.is_tuple()) args.positional = right.as_array();
          else args.positional.push_back(right);
          result = apply_filter(*this, "format", left, args);
        } else {
          result = ops::modulo(left, right);
        }
      } else {
        result = ops::power(left, right);
      }
      if (result.is_string()) charge(result.as_string().size() / 16);
      else if (result.is_array()) charge(result.as_array().size());
      return result;
    }
    case Expr::Kind::kCompare:
      return Value::boolean(eval_compare(expr));
    case Expr::Kind::kCondition:
      if (eval(*expr.items[0]).truthy()) return eval(*expr.items[1]);
      return expr.items[2] ? eval(*expr.items[2]) : Value::undefined();
  }
  return Value::undefined();
}

}  // namespace tether::jinja
