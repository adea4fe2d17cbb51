#pragma once

#include <string>

#include <fmt/format.h>

#include "http/http_error.h"

namespace tether::api {

// Throws a 400 invalid_request_error naming `param` (OpenAI's error body
// carries it in "param").
template <typename... Args>
[[noreturn]] void throw_invalid_param(std::string param, fmt::format_string<Args...> format,
                                      Args&&... args) {
  throw http::HttpError::bad_request(fmt::format(format, std::forward<Args>(args)...),
                                     std::move(param));
}

}  // namespace tether::api
