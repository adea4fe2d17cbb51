#pragma once

#include <exception>
#include <stdexcept>
#include <string>
#include <string_view>

#include <fmt/format.h>

namespace tether {

// What kind of failure an Error reports; the HTTP layer maps each to one status.
enum class ErrorCode {
  kInvalidArgument,  // the caller asked for something malformed
  kNotFound,         // a named thing (file, key, tensor) does not exist
  kCorruptData,      // outside bytes (a file, a body) break their format
  kUnsupported,      // well-formed but not something tether handles
  kIo,               // the environment failed (open, read, mmap, write)
  kInternal,         // a broken invariant that we chose to report, not abort on
};

std::string_view error_code_name(ErrorCode code);

// The message of a caught exception (what()), or "unknown failure" for one
// that is no std::exception; for logs.
std::string describe_exception(const std::exception_ptr& failure);

// The one exception type for expected failures: untrusted input and the
// environment. Messages are one line and say what was wrong and where.
class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, std::string message)
      : std::runtime_error(std::move(message)), code_(code) {}

  ErrorCode code() const { return code_; }

 private:
  ErrorCode code_;
};

template <typename... Args>
[[noreturn]] void throw_error(ErrorCode code, fmt::format_string<Args...> format,
                              Args&&... args) {
  throw Error(code, fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace tether
