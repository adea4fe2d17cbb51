#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tether::jinja {

class Value;
class Interpreter;

using Array = std::vector<Value>;

// Keyword arguments keep their call order (macros bind them by name).
struct CallArgs {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keyword;

  // The argument at `index` or named `name`; nullptr when neither was given.
  const Value* find(size_t index, std::string_view name) const;
};

// A callable: a macro, a global function (range, namespace, ...) or a method
// bound to its object. The interpreter is passed so macros can render.
struct Function {
  std::string name;
  std::function<Value(Interpreter&, CallArgs&)> call;
};

// A Python dict: string keys in insertion order. Chat template dicts are
// small, so a vector with linear lookup beats hashing.
class Object {
 public:
  const Value* find(std::string_view key) const;
  Value* find(std::string_view key);
  // Inserts or replaces, keeping the first insertion's position.
  void set(std::string key, Value value);
  const std::vector<std::pair<std::string, Value>>& entries() const { return entries_; }
  size_t size() const { return entries_.size(); }

 private:
  std::vector<std::pair<std::string, Value>> entries_;
};

// A Jinja2 runtime value with Python semantics. Containers are shared, as
// Python references are, so copying a Value is cheap.
class Value {
 public:
  enum class Kind { kUndefined, kNone, kBool, kInt, kFloat, kString, kArray, kObject, kFunction };

  Value() = default;  // undefined
  static Value undefined(std::string hint = {});
  static Value none();
  static Value boolean(bool b);
  static Value integer(int64_t i);
  static Value floating(double f);
  static Value string(std::string s);
  static Value array(Array items = {});
  static Value tuple(Array items);
  static Value object(Object o = {});
  static Value namespace_object(Object o);
  static Value function(std::string name, std::function<Value(Interpreter&, CallArgs&)> call);

  Kind kind() const { return kind_; }
  bool is_undefined() const { return kind_ == Kind::kUndefined; }
  bool is_none() const { return kind_ == Kind::kNone; }
  bool is_bool() const { return kind_ == Kind::kBool; }
  bool is_int() const { return kind_ == Kind::kInt; }
  bool is_float() const { return kind_ == Kind::kFloat; }
  // Python's numbers: bool is an int there.
  bool is_number() const { return kind_ == Kind::kInt || kind_ == Kind::kFloat || kind_ == Kind::kBool; }
  bool is_string() const { return kind_ == Kind::kString; }
  bool is_array() const { return kind_ == Kind::kArray; }
  bool is_tuple() const { return kind_ == Kind::kArray && tuple_; }
  bool is_object() const { return kind_ == Kind::kObject; }
  bool is_namespace() const { return kind_ == Kind::kObject && namespace_; }
  bool is_function() const { return kind_ == Kind::kFunction; }

  bool as_bool() const { return int_ != 0; }
  int64_t as_int() const { return int_; }  // also a bool's 0/1
  double as_double() const { return kind_ == Kind::kFloat ? float_ : static_cast<double>(int_); }
  const std::string& as_string() const { return *string_; }
  // For undefined values: what was looked up, for error messages.
  const std::string& undefined_hint() const;
  const Array& as_array() const { return *array_; }
  Array& mutable_array() { return *array_; }
  const Object& as_object() const { return *object_; }
  Object& mutable_object() { return *object_; }
  const Function& as_function() const { return *function_; }

  // Python truthiness (undefined is false).
  bool truthy() const;
  // Python's type name, for error messages ("NoneType", "dict", ...).
  std::string_view type_name() const;

 private:
  Kind kind_ = Kind::kUndefined;
  bool tuple_ = false;
  bool namespace_ = false;
  int64_t int_ = 0;
  double float_ = 0;
  std::shared_ptr<const std::string> string_;  // string, or an undefined's hint
  std::shared_ptr<Array> array_;
  std::shared_ptr<Object> object_;
  std::shared_ptr<const Function> function_;
};

}  // namespace tether::jinja
