#include "http/request.h"

#include <algorithm>
#include <cctype>

#include <boost/url/parse.hpp>

namespace tether::http {
namespace {

bool equals_ignore_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

}  // namespace

std::optional<std::string_view> Request::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (equals_ignore_case(key, name)) return std::string_view(value);
  }
  return std::nullopt;
}

std::optional<std::string_view> Request::bearer_token() const {
  std::optional<std::string_view> value = header("authorization");
  if (!value || value->size() < 7 || !equals_ignore_case(value->substr(0, 7), "bearer ")) return std::nullopt;
  std::string_view token = value->substr(7);
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  return token;
}

std::optional<std::string_view> Request::query_param(std::string_view name) const {
  for (const auto& [key, value] : query) {
    if (key == name) return std::string_view(value);
  }
  return std::nullopt;
}

std::string_view Request::path_param(std::string_view name) const {
  for (const auto& [key, value] : path_params) {
    if (key == name) return value;
  }
  return {};
}

std::optional<std::string> parse_target(Request& request) {
  auto url = boost::urls::parse_origin_form(request.target);
  if (!url) return std::nullopt;
  request.path = url->path();
  for (const auto& param : url->params()) {
    request.query.emplace_back(param.key, param.has_value ? param.value : std::string());
  }
  return std::string(url->encoded_path());
}

}  // namespace tether::http
