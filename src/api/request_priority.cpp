#include "api/request_priority.h"

#include <string>

#include <fmt/format.h>

#include "common/ascii.h"
#include "http/http_error.h"

namespace tether::api {

sched::Priority request_priority(const http::Request& request) {
  const std::optional<std::string_view> header = request.header(kPriorityHeader);
  if (!header) return sched::Priority::kInteractive;
  std::string_view text = *header;
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  const std::string value = ascii_lower(text);
  if (value == "async") return sched::Priority::kAsync;
  if (value == "interactive") return sched::Priority::kInteractive;
  // Printable ASCII only in the message: the value is the client's.
  std::string shown;
  for (char c : text.substr(0, 64)) shown += (c >= 0x20 && c < 0x7f) ? c : '?';
  throw http::HttpError(400,
                        fmt::format("unknown {} '{}': use 'async' or 'interactive' (or leave the header out)",
                                    kPriorityHeader, shown),
                        "invalid_request_error", std::string(kPriorityHeader), "invalid_priority");
}

}  // namespace tether::api
