#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "http/exchange.h"
#include "http/http_error.h"

namespace tether::http {

using Handler = std::function<boost::asio::awaitable<void>(Exchange&)>;

// Maps (method, path) to a handler. Patterns are literal segments, {name}
// segments (one non-empty segment) and, last, {name...}: the rest of the
// path, slashes included (model names like @cf/meta/llama-3.1-8b-instruct):
//   router.add("POST", "/accounts/{account}/ai/run/{model...}", handler);
// Segments are matched after percent-decoding. The first added route that
// matches wins.
class Router {
 public:
  struct Match {
    enum class Kind { kFound, kNotFound, kMethodNotAllowed };
    Kind kind = Kind::kNotFound;
    const Handler* handler = nullptr;  // when found
    std::string pattern;               // when found
    std::vector<std::pair<std::string, std::string>> params;
    std::string allow;  // when the method is not allowed: "GET, POST"
  };

  // Throws Error(kInvalidArgument) for a malformed pattern.
  void add(std::string method, std::string_view pattern, Handler handler);
  // `encoded_path`: the request path as sent (before percent-decoding).
  Match match(std::string_view method, std::string_view encoded_path) const;

  // What a request routes to: its handler (request.route and path_params
  // set), or the 404 / 405 to answer (with the Allow header's value).
  struct Resolution {
    const Handler* handler = nullptr;
    std::optional<HttpError> error;
    std::string allow;
  };
  // `encoded_path` from parse_target(request).
  Resolution resolve(Request& request, std::string_view encoded_path) const;

 private:
  struct Segment {
    enum class Kind { kLiteral, kParam, kRest };
    Kind kind;
    std::string text;  // literal text or parameter name
  };
  struct Route {
    std::string method;
    std::string pattern;
    std::vector<Segment> segments;
    Handler handler;
  };
  static bool match_route(const Route& route, const std::vector<std::string>& segments,
                          std::vector<std::pair<std::string, std::string>>& params);

  std::vector<Route> routes_;
};

}  // namespace tether::http
