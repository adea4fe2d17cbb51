#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tether::jobs {

// A webhook target URL, parsed and checked: absolute http(s), a host, no
// userinfo, no fragment, no "." / ".." path segments (nor ones hiding a
// '/' or '\' behind percent-encoding), so that the path compared against
// the allowlist is the path the receiver serves.
struct WebhookUrl {
  std::string scheme;  // "http" or "https"
  std::string host;    // lower case; an IPv6 address without brackets
  uint16_t port = 0;   // as written, else the scheme's default (80, 443)
  std::string path;    // percent-encoded as written; "/" when empty
  std::string target;  // the request target: path and query
};

// Error(kInvalidArgument) naming the URL and what is wrong with it.
WebhookUrl parse_webhook_url(std::string_view url);

// Where webhooks may be sent: URL prefixes from the configuration. A target
// is allowed by an entry with the same scheme, host (any case) and port
// (default ports applied) whose path is the target's path or a prefix of it
// ending at a '/' boundary: "http://a/hooks" allows "http://a/hooks" and
// "http://a/hooks/x" but not "http://a/hooksx". An entry without a path
// allows the whole host. An empty allowlist allows nothing.
class WebhookAllowlist {
 public:
  WebhookAllowlist() = default;
  // Error(kInvalidArgument) for an entry that is not an http(s) URL prefix
  // (a query, userinfo or fragment in it, too).
  explicit WebhookAllowlist(const std::vector<std::string>& entries);

  // nullopt when `url` may be sent to; else why not, naming the URL (the
  // API answers a refused submit with it).
  std::optional<std::string> check(std::string_view url) const;
  bool allows(std::string_view url) const { return !check(url).has_value(); }
  bool empty() const { return entries_.empty(); }

 private:
  std::vector<WebhookUrl> entries_;
};

}  // namespace tether::jobs
