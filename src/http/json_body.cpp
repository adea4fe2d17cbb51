#include "http/json_body.h"

#include <string>

#include <boost/json/parse_options.hpp>
#include <boost/json/stream_parser.hpp>
#include <fmt/format.h>

#include "http/http_error.h"

namespace tether::http {

boost::json::value parse_json_body(const Request& request) {
  if (request.body.empty()) throw HttpError::bad_request("request body is empty; expected JSON");
  boost::json::parse_options options;
  options.max_depth = 64;  // deep nesting is an attack, not a request
  boost::json::stream_parser parser({}, options);
  boost::json::error_code ec;
  const size_t consumed = parser.write(request.body.data(), request.body.size(), ec);
  if (!ec) parser.finish(ec);
  if (ec) {
    throw HttpError::bad_request(
        fmt::format("invalid JSON body: {} (at byte {} of {})", ec.message(), consumed, request.body.size()));
  }
  return parser.release();
}

boost::json::object parse_json_object_body(const Request& request) {
  boost::json::value value = parse_json_body(request);
  if (!value.is_object()) throw HttpError::bad_request("the JSON body must be an object");
  return std::move(value.as_object());
}

}  // namespace tether::http
