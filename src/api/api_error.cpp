#include "api/api_error.h"

namespace tether::api {

boost::json::object openai_error_body(const ApiError& error) {
  boost::json::object inner;
  inner["message"] = error.what();
  inner["type"] = error.type();
  inner["param"] = error.param().empty() ? boost::json::value(nullptr)
                                         : boost::json::value(error.param());
  inner["code"] = error.code().empty() ? boost::json::value(nullptr)
                                       : boost::json::value(error.code());
  boost::json::object body;
  body["error"] = std::move(inner);
  return body;
}

ApiError api_error_from(const Error& error) {
  switch (error.code()) {
    case ErrorCode::kInvalidArgument:
    case ErrorCode::kCorruptData:
    case ErrorCode::kUnsupported:
      return ApiError(400, error.what());
    case ErrorCode::kNotFound:
      return ApiError(404, error.what(), "invalid_request_error", {}, "not_found");
    case ErrorCode::kIo:
    case ErrorCode::kInternal:
      break;
  }
  return ApiError(500, error.what(), "server_error");
}

}  // namespace tether::api
