#pragma once

#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace tether::http {

// An answer other than success, thrown by handlers (or built by the server)
// and turned into OpenAI's error body in one place:
//   {"error": {"message": ..., "type": ..., "param": ..., "code": ...}}
// param and code are null in the body when empty.
class HttpError : public std::runtime_error {
 public:
  // type "" takes default_error_type(status).
  HttpError(int status, std::string message, std::string type = {}, std::string param = {},
            std::string code = {});

  int status() const { return status_; }
  const std::string& type() const { return type_; }
  const std::string& param() const { return param_; }
  const std::string& code() const { return code_; }
  // Sent as Retry-After (seconds) when set; 429 and 503 use it.
  std::optional<int> retry_after_seconds() const { return retry_after_seconds_; }

  // 400 invalid_request_error, naming the offending field when given.
  static HttpError bad_request(std::string message, std::string param = {});
  // 429 with Retry-After: the engine is full; the client should come back.
  static HttpError too_many_requests(std::string message, int retry_after_seconds);
  // 503 with Retry-After (draining, too many connections).
  static HttpError unavailable(std::string message, int retry_after_seconds);

 private:
  int status_;
  std::string type_;
  std::string param_;
  std::string code_;
  std::optional<int> retry_after_seconds_;
};

// "invalid_request_error" for 4xx, "authentication_error" for 401,
// "rate_limit_error" for 429, "server_error" for 5xx.
std::string_view default_error_type(int status);

// The one mapping from a failure to an answer: HttpError as it is;
// tether::Error by code (kInvalidArgument, kCorruptData, kUnsupported -> 400,
// kNotFound -> 404, others -> 500); anything else -> 500 "internal error".
HttpError to_http_error(const std::exception_ptr& failure);

// The OpenAI error body of `error`, serialized JSON.
std::string error_body(const HttpError& error);

}  // namespace tether::http
