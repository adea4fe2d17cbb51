#include "api/json_reader.h"

#include <cmath>

#include "api/invalid_param.h"

namespace tether::api {

JsonReader::JsonReader(const boost::json::object& object, std::string path)
    : object_(object), path_(std::move(path)) {}

std::string JsonReader::param(std::string_view key) const {
  if (path_.empty()) return std::string(key);
  return path_ + "." + std::string(key);
}

const boost::json::value* JsonReader::value(std::string_view key) const {
  const boost::json::value* found = object_.if_contains(key);
  if (found == nullptr || found->is_null()) return nullptr;
  return found;
}

std::optional<std::string> JsonReader::string(std::string_view key) const {
  const boost::json::value* found = value(key);
  if (found == nullptr) return std::nullopt;
  if (!found->is_string()) {
    throw_invalid_param(param(key), "'{}' must be a string, not {}", param(key),
                        json_type_name(*found));
  }
  return std::string(found->get_string());
}

std::optional<bool> JsonReader::boolean(std::string_view key) const {
  const boost::json::value* found = value(key);
  if (found == nullptr) return std::nullopt;
  if (!found->is_bool()) {
    throw_invalid_param(param(key), "'{}' must be a boolean, not {}", param(key),
                        json_type_name(*found));
  }
  return found->get_bool();
}

std::optional<double> JsonReader::number(std::string_view key, double min, double max) const {
  const boost::json::value* found = value(key);
  if (found == nullptr) return std::nullopt;
  if (!found->is_number()) {
    throw_invalid_param(param(key), "'{}' must be a number, not {}", param(key),
                        json_type_name(*found));
  }
  double number = found->to_number<double>();
  if (!std::isfinite(number) || number < min || number > max) {
    throw_invalid_param(param(key), "'{}' is {}; it must be between {} and {}", param(key), number,
                        min, max);
  }
  return number;
}

std::optional<int64_t> JsonReader::integer(std::string_view key, int64_t min, int64_t max) const {
  const boost::json::value* found = value(key);
  if (found == nullptr) return std::nullopt;
  int64_t number = 0;
  if (found->is_int64()) {
    number = found->get_int64();
  } else if (found->is_uint64()) {
    if (found->get_uint64() > static_cast<uint64_t>(INT64_MAX)) {
      throw_invalid_param(param(key), "'{}' is too large; it must be at most {}", param(key), max);
    }
    number = static_cast<int64_t>(found->get_uint64());
  } else if (found->is_double() && std::trunc(found->get_double()) == found->get_double() &&
             std::fabs(found->get_double()) < 9.0e15) {
    number = static_cast<int64_t>(found->get_double());  // 5.0 is an integer to JSON
  } else {
    throw_invalid_param(param(key), "'{}' must be an integer, not {}", param(key),
                        json_type_name(*found));
  }
  if (number < min || number > max) {
    throw_invalid_param(param(key), "'{}' is {}; it must be between {} and {}", param(key), number,
                        min, max);
  }
  return number;
}

const boost::json::object* JsonReader::object(std::string_view key) const {
  const boost::json::value* found = value(key);
  if (found == nullptr) return nullptr;
  if (!found->is_object()) {
    throw_invalid_param(param(key), "'{}' must be an object, not {}", param(key),
                        json_type_name(*found));
  }
  return &found->get_object();
}

const boost::json::array* JsonReader::array(std::string_view key) const {
  const boost::json::value* found = value(key);
  if (found == nullptr) return nullptr;
  if (!found->is_array()) {
    throw_invalid_param(param(key), "'{}' must be an array, not {}", param(key),
                        json_type_name(*found));
  }
  return &found->get_array();
}

std::string JsonReader::required_string(std::string_view key) const {
  std::optional<std::string> text = string(key);
  if (!text) throw_invalid_param(param(key), "'{}' is required", param(key));
  return *text;
}

std::string_view json_type_name(const boost::json::value& value) {
  switch (value.kind()) {
    case boost::json::kind::null: return "null";
    case boost::json::kind::bool_: return "boolean";
    case boost::json::kind::int64:
    case boost::json::kind::uint64: return "integer";
    case boost::json::kind::double_: return "number";
    case boost::json::kind::string: return "string";
    case boost::json::kind::array: return "array";
    case boost::json::kind::object: return "object";
  }
  return "unknown";
}

}  // namespace tether::api
