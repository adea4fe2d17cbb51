#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "http/request.h"

namespace tether::http {

// The request body parsed as JSON; throws HttpError 400 naming the problem
// (empty body, syntax error with its byte offset, too deep nesting).
boost::json::value parse_json_body(const Request& request);

// As parse_json_body, and the value must be an object (400 otherwise).
boost::json::object parse_json_object_body(const Request& request);

}  // namespace tether::http
