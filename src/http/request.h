#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tether::http {

// One parsed HTTP request as a handler sees it. Header names are stored
// lower-cased so lookups are case-insensitive; the path and the query are
// percent-decoded (boost::url).
struct Request {
  std::string method;  // "GET", "POST", ...
  std::string target;  // as sent: path and query, still encoded
  std::string path;    // decoded path
  std::vector<std::pair<std::string, std::string>> headers;  // lower-case names, in order
  std::vector<std::pair<std::string, std::string>> query;    // decoded, in order
  std::vector<std::pair<std::string, std::string>> path_params;  // from the route's {name}s
  std::string body;
  std::string request_id;  // x-request-id: the client's when sane, else generated
  std::string peer;        // remote address "ip:port"
  std::string route;       // the matched route pattern (metrics label), "" before routing
  int version = 11;        // 10 or 11

  // The first header with this name (any case), or nullopt.
  std::optional<std::string_view> header(std::string_view name) const;
  // The first query parameter with this name, or nullopt.
  std::optional<std::string_view> query_param(std::string_view name) const;
  // The token of "Authorization: Bearer <token>" (scheme in any case, spaces
  // around the token trimmed), or nullopt.
  std::optional<std::string_view> bearer_token() const;
  // A {name} segment of the matched route; "" when the route has none such.
  std::string_view path_param(std::string_view name) const;
};

// Sets request.path and request.query from request.target (origin form,
// percent-decoded); returns the still-encoded path, which routing matches,
// or nullopt for a malformed target.
std::optional<std::string> parse_target(Request& request);

}  // namespace tether::http
