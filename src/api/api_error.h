#pragma once

#include <stdexcept>
#include <string>

#include <boost/json/object.hpp>

#include "common/error.h"

namespace tether::api {

// An error answered to an API client: the HTTP status and the fields of
// OpenAI's error body {"error": {"message", "type", "param", "code"}}.
// Request parsing throws it so that the handler can name the offending
// parameter, which tether::Error cannot carry.
class ApiError : public std::runtime_error {
 public:
  ApiError(int status, std::string message, std::string type = "invalid_request_error",
           std::string param = {}, std::string code = {})
      : std::runtime_error(std::move(message)),
        status_(status),
        type_(std::move(type)),
        param_(std::move(param)),
        code_(std::move(code)) {}

  int status() const { return status_; }
  const std::string& type() const { return type_; }
  const std::string& param() const { return param_; }  // empty: null
  const std::string& code() const { return code_; }    // empty: null
  // Seconds for Retry-After (429), 0 when none.
  int retry_after_s() const { return retry_after_s_; }
  ApiError& with_retry_after(int seconds) {
    retry_after_s_ = seconds;
    return *this;
  }

 private:
  int status_;
  std::string type_;
  std::string param_;
  std::string code_;
  int retry_after_s_ = 0;
};

// A 400 invalid_request_error naming `param`.
template <typename... Args>
[[noreturn]] void throw_invalid_param(std::string param, fmt::format_string<Args...> format,
                                      Args&&... args) {
  throw ApiError(400, fmt::format(format, std::forward<Args>(args)...), "invalid_request_error",
                 std::move(param));
}

// OpenAI's error body for `error`.
boost::json::object openai_error_body(const ApiError& error);

// The ApiError a tether::Error becomes (its code decides the status; never
// 5xx for kInvalidArgument, kNotFound, kCorruptData or kUnsupported).
ApiError api_error_from(const Error& error);

}  // namespace tether::api
