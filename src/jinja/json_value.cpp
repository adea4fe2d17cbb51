#include "jinja/json_value.h"

#include <boost/json.hpp>

#include "common/error.h"

namespace tether::jinja {
namespace {

Value convert(const boost::json::value& json, int depth) {
  if (depth > kMaxJsonDepth)
    throw_error(ErrorCode::kInvalidArgument, "JSON nests deeper than {} levels", kMaxJsonDepth);
  switch (json.kind()) {
    case boost::json::kind::null: return Value::none();
    case boost::json::kind::bool_: return Value::boolean(json.get_bool());
    case boost::json::kind::int64: return Value::integer(json.get_int64());
    case boost::json::kind::uint64: {
      const uint64_t u = json.get_uint64();
      if (u > static_cast<uint64_t>(INT64_MAX)) return Value::floating(static_cast<double>(u));
      return Value::integer(static_cast<int64_t>(u));
    }
    case boost::json::kind::double_: return Value::floating(json.get_double());
    case boost::json::kind::string: return Value::string(std::string(json.get_string()));
    case boost::json::kind::array: {
      Array items;
      items.reserve(json.get_array().size());
      for (const auto& item : json.get_array()) items.push_back(convert(item, depth + 1));
      return Value::array(std::move(items));
    }
    case boost::json::kind::object: {
      Object object;
      for (const auto& entry : json.get_object())
        object.set(std::string(entry.key()), convert(entry.value(), depth + 1));
      return Value::object(std::move(object));
    }
  }
  return Value::none();
}

}  // namespace

Value from_json(const boost::json::value& json) { return convert(json, 0); }

}  // namespace tether::jinja
