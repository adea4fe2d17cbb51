#include "http/router.h"

#include <boost/url/decode_view.hpp>
#include <boost/url/grammar/error.hpp>
#include <boost/url/pct_string_view.hpp>

#include <fmt/format.h>

#include "common/error.h"

namespace tether::http {
namespace {

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> parts;
  if (!path.empty() && path.front() == '/') path.remove_prefix(1);
  if (path.empty()) return parts;
  for (;;) {
    const size_t slash = path.find('/');
    parts.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return parts;
}

// Percent-decodes one path segment; nullopt when its escapes are malformed.
std::optional<std::string> decode_segment(std::string_view segment) {
  auto encoded = boost::urls::make_pct_string_view(segment);
  if (!encoded) return std::nullopt;
  std::string decoded;
  decoded.reserve(segment.size());
  for (char c : **encoded) decoded.push_back(c);  // pct_string_view -> decode_view
  return decoded;
}

}  // namespace

void Router::add(std::string method, std::string_view pattern, Handler handler) {
  if (pattern.empty() || pattern.front() != '/') {
    throw_error(ErrorCode::kInvalidArgument, "route pattern '{}' must start with '/'", pattern);
  }
  Route route;
  route.method = std::move(method);
  route.pattern = std::string(pattern);
  route.handler = std::move(handler);
  const std::vector<std::string_view> parts = split_path(pattern);
  for (size_t part_idx = 0; part_idx < parts.size(); ++part_idx) {
    std::string_view part = parts[part_idx];
    if (part.size() >= 2 && part.front() == '{' && part.back() == '}') {
      std::string_view name = part.substr(1, part.size() - 2);
      Segment::Kind kind = Segment::Kind::kParam;
      if (name.size() > 3 && name.substr(name.size() - 3) == "...") {
        if (part_idx + 1 != parts.size()) {
          throw_error(ErrorCode::kInvalidArgument, "route pattern '{}': {{name...}} must be last", pattern);
        }
        name.remove_suffix(3);
        kind = Segment::Kind::kRest;
      }
      if (name.empty()) throw_error(ErrorCode::kInvalidArgument, "route pattern '{}': empty name", pattern);
      route.segments.push_back({kind, std::string(name)});
    } else {
      route.segments.push_back({Segment::Kind::kLiteral, std::string(part)});
    }
  }
  routes_.push_back(std::move(route));
}

bool Router::match_route(const Route& route, const std::vector<std::string>& segments,
                         std::vector<std::pair<std::string, std::string>>& params) {
  params.clear();
  size_t seg_idx = 0;
  for (const Segment& segment : route.segments) {
    if (segment.kind == Segment::Kind::kRest) {
      if (seg_idx >= segments.size()) return false;
      std::string rest;
      for (size_t idx = seg_idx; idx < segments.size(); ++idx) {
        if (idx > seg_idx) rest.push_back('/');
        rest += segments[idx];
      }
      if (rest.empty()) return false;
      params.emplace_back(segment.text, std::move(rest));
      return true;
    }
    if (seg_idx >= segments.size()) return false;
    const std::string& actual = segments[seg_idx++];
    if (segment.kind == Segment::Kind::kLiteral) {
      if (actual != segment.text) return false;
    } else {
      if (actual.empty()) return false;
      params.emplace_back(segment.text, actual);
    }
  }
  return seg_idx == segments.size();
}

Router::Match Router::match(std::string_view method, std::string_view encoded_path) const {
  Match result;
  std::vector<std::string> segments;
  for (std::string_view part : split_path(encoded_path)) {
    std::optional<std::string> decoded = decode_segment(part);
    if (!decoded) return result;  // malformed escapes match nothing: 404
    segments.push_back(std::move(*decoded));
  }
  std::vector<std::pair<std::string, std::string>> params;
  for (const Route& route : routes_) {
    if (!match_route(route, segments, params)) continue;
    if (route.method == method) {
      result.kind = Match::Kind::kFound;
      result.handler = &route.handler;
      result.pattern = route.pattern;
      result.params = std::move(params);
      return result;
    }
    if (result.allow.find(route.method) == std::string::npos) {
      if (!result.allow.empty()) result.allow += ", ";
      result.allow += route.method;
    }
  }
  if (!result.allow.empty()) result.kind = Match::Kind::kMethodNotAllowed;
  return result;
}

Router::Resolution Router::resolve(Request& request, std::string_view encoded_path) const {
  Resolution resolution;
  Match match = this->match(request.method, encoded_path);
  if (match.kind == Match::Kind::kFound) {
    resolution.handler = match.handler;
    request.route = std::move(match.pattern);
    request.path_params = std::move(match.params);
  } else if (match.kind == Match::Kind::kMethodNotAllowed) {
    resolution.allow = std::move(match.allow);
    resolution.error = HttpError(405, fmt::format("method {} is not allowed on {}; allowed: {}", request.method,
                                                  request.path, resolution.allow));
  } else {
    resolution.error =
        HttpError(404, fmt::format("no route for {} {}", request.method, request.path), {}, {}, "not_found");
  }
  return resolution;
}

}  // namespace tether::http
