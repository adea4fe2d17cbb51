#include "jinja/builtin_globals.h"

#include <ctime>

#include "common/error.h"
#include "jinja/call_args_util.h"
#include "jinja/interpreter.h"
#include "jinja/value_format.h"

namespace tether::jinja {
namespace {

// As Jinja2's sandbox: a range may not exceed this many items.
constexpr int64_t kMaxRange = 100'000;

Value range(Interpreter& interpreter, CallArgs& args) {
  if (!args.keyword.empty()) throw_error(ErrorCode::kInvalidArgument, "range() takes no keyword arguments");
  int64_t start = 0, stop = 0, step = 1;
  auto get = [&](size_t i) {
    const Value& v = args.positional[i];
    if (!v.is_int() && !v.is_bool())
      throw_error(ErrorCode::kInvalidArgument, "'{}' object cannot be interpreted as an integer", v.type_name());
    return v.as_int();
  };
  switch (args.positional.size()) {
    case 1: stop = get(0); break;
    case 2: start = get(0); stop = get(1); break;
    case 3: start = get(0); stop = get(1); step = get(2); break;
    default: throw_error(ErrorCode::kInvalidArgument, "range expected 1 to 3 arguments, got {}", args.positional.size());
  }
  if (step == 0) throw_error(ErrorCode::kInvalidArgument, "range() arg 3 must not be zero");
  Array items;
  // Computed in double to avoid overflow on hostile bounds.
  const double count = step > 0 ? (static_cast<double>(stop) - static_cast<double>(start)) / static_cast<double>(step)
                                 : (static_cast<double>(start) - static_cast<double>(stop)) / static_cast<double>(-step);
  if (count > static_cast<double>(kMaxRange))
    throw_error(ErrorCode::kInvalidArgument, "range too big, the limit is {} items", kMaxRange);
  for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) items.push_back(Value::integer(i));
  interpreter.charge(items.size());
  return Value::array(std::move(items));
}

Object keyword_object(CallArgs& args, std::string_view function) {
  Object object;
  if (args.positional.size() > 1)
    throw_error(ErrorCode::kInvalidArgument, "{}() takes at most one positional argument", function);
  if (args.positional.size() == 1) {
    const Value& initial = args.positional[0];
    if (!initial.is_object())
      throw_error(ErrorCode::kInvalidArgument, "{}() needs a mapping, not '{}'", function, initial.type_name());
    for (const auto& [key, value] : initial.as_object().entries()) object.set(key, value);
  }
  for (auto& [key, value] : args.keyword) object.set(key, value);
  return object;
}

Value strftime_now(Interpreter& interpreter, CallArgs& args) {
  const std::string format = args::string_or(args, 0, "format", "");
  if (format.size() > 256) throw_error(ErrorCode::kInvalidArgument, "strftime_now format is too long");
  const auto now = interpreter.options().now.value_or(std::chrono::system_clock::now());
  const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  std::tm parts{};
  gmtime_r(&seconds, &parts);
  char buf[1024];
  const size_t n = format.empty() ? 0 : std::strftime(buf, sizeof buf, format.c_str(), &parts);
  if (n == 0 && !format.empty()) throw_error(ErrorCode::kInvalidArgument, "strftime_now format gives no text");
  return Value::string(std::string(buf, n));
}

Object make_globals() {
  Object globals;
  globals.set("range", Value::function("range", range));
  globals.set("namespace", Value::function("namespace", [](Interpreter&, CallArgs& args) {
                return Value::namespace_object(keyword_object(args, "namespace"));
              }));
  globals.set("dict", Value::function("dict", [](Interpreter&, CallArgs& args) {
                return Value::object(keyword_object(args, "dict"));
              }));
  globals.set("raise_exception", Value::function("raise_exception", [](Interpreter& interpreter, CallArgs& args) -> Value {
                const Value* message = args.find(0, "message");
                throw_error(ErrorCode::kInvalidArgument, "{}",
                            message ? python_str(*message, interpreter.max_bytes()) : "raise_exception called");
              }));
  globals.set("strftime_now", Value::function("strftime_now", strftime_now));
  return globals;
}

}  // namespace

const Object& builtin_globals() {
  static const Object globals = make_globals();
  return globals;
}

}  // namespace tether::jinja
