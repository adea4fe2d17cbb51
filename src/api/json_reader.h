#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

namespace tether::api {

// Typed, checked access to the fields of one JSON object of a request body.
// A field that is absent or null counts as absent (clients send null for
// "unset"); a present field of the wrong type or out of range throws a 400
// http::HttpError naming it by its path (e.g. "messages[2].content").
class JsonReader {
 public:
  JsonReader(const boost::json::object& object, std::string path = {});

  // The field's name as reported in errors.
  std::string param(std::string_view key) const;

  const boost::json::value* value(std::string_view key) const;
  std::optional<std::string> string(std::string_view key) const;
  std::optional<bool> boolean(std::string_view key) const;
  std::optional<double> number(std::string_view key, double min, double max) const;
  std::optional<int64_t> integer(std::string_view key, int64_t min, int64_t max) const;
  const boost::json::object* object(std::string_view key) const;
  const boost::json::array* array(std::string_view key) const;

  // Like string(), but absence is an error.
  std::string required_string(std::string_view key) const;

  const boost::json::object& json() const { return object_; }
  const std::string& path() const { return path_; }

 private:
  const boost::json::object& object_;
  std::string path_;
};

// "object", "array", "string", ... as JSON Schema names a value's type.
std::string_view json_type_name(const boost::json::value& value);

}  // namespace tether::api
