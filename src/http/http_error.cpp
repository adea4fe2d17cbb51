#include "http/http_error.h"

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "common/error.h"

namespace tether::http {

HttpError::HttpError(int status, std::string message, std::string type, std::string param,
                     std::string code)
    : std::runtime_error(std::move(message)),
      status_(status),
      type_(type.empty() ? std::string(default_error_type(status)) : std::move(type)),
      param_(std::move(param)),
      code_(std::move(code)) {}

HttpError HttpError::bad_request(std::string message, std::string param) {
  return HttpError(400, std::move(message), "invalid_request_error", std::move(param));
}

HttpError HttpError::too_many_requests(std::string message, int retry_after_seconds) {
  HttpError error(429, std::move(message), "rate_limit_error", {}, "rate_limit_exceeded");
  error.retry_after_seconds_ = retry_after_seconds;
  return error;
}

HttpError HttpError::unavailable(std::string message, int retry_after_seconds) {
  HttpError error(503, std::move(message), "server_error", {}, "unavailable");
  error.retry_after_seconds_ = retry_after_seconds;
  return error;
}

std::string_view default_error_type(int status) {
  if (status == 401) return "authentication_error";
  if (status == 403) return "permission_error";
  if (status == 429) return "rate_limit_error";
  if (status >= 500) return "server_error";
  return "invalid_request_error";
}

HttpError to_http_error(const std::exception_ptr& failure) {
  try {
    std::rethrow_exception(failure);
  } catch (const HttpError& error) {
    return error;
  } catch (const Error& error) {
    switch (error.code()) {
      case ErrorCode::kInvalidArgument:
      case ErrorCode::kCorruptData:
      case ErrorCode::kUnsupported:
        return HttpError(400, error.what());
      case ErrorCode::kNotFound:
        return HttpError(404, error.what(), {}, {}, "not_found");
      case ErrorCode::kIo:
      case ErrorCode::kInternal:
        return HttpError(500, error.what());
    }
    return HttpError(500, error.what());
  } catch (const std::exception& error) {
    return HttpError(500, std::string("internal error: ") + error.what());
  } catch (...) {
    return HttpError(500, "internal error");
  }
}

std::string error_body(const HttpError& error) {
  boost::json::object inner;
  inner["message"] = error.what();
  inner["type"] = error.type();
  inner["param"] = error.param().empty() ? boost::json::value(nullptr) : boost::json::value(error.param());
  inner["code"] = error.code().empty() ? boost::json::value(nullptr) : boost::json::value(error.code());
  boost::json::object body;
  body["error"] = std::move(inner);
  return boost::json::serialize(body);
}

}  // namespace tether::http
