#include "jobs/webhook_allowlist.h"

#include <cctype>
#include <charconv>

#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

#include "common/ascii.h"
#include "common/error.h"

namespace tether::jobs {

namespace {

// A registered name that is a plain DNS name (after percent-decoding):
// nothing a resolver or a Host header would read differently.
bool plain_host_name(std::string_view host) {
  if (host.empty()) return false;
  for (const char c : host) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.' && c != '_') return false;
  }
  return true;
}

[[noreturn]] void refuse(std::string_view url, std::string_view why) {
  throw_error(ErrorCode::kInvalidArgument, "webhook URL \"{}\": {}", url, why);
}

// Whether `path` is `prefix` or continues it after a '/'.
bool path_within(std::string_view path, std::string_view prefix) {
  if (path.substr(0, prefix.size()) != prefix) return false;
  return path.size() == prefix.size() || prefix.back() == '/' || path[prefix.size()] == '/';
}

}  // namespace

WebhookUrl parse_webhook_url(std::string_view text) {
  // parse_absolute_uri takes no fragment: "#..." is refused here.
  auto parsed = boost::urls::parse_absolute_uri(text);
  if (!parsed) refuse(text, "not an absolute URL without a fragment (http://host[:port]/path)");
  const boost::urls::url_view url = *parsed;
  WebhookUrl out;
  if (url.scheme_id() == boost::urls::scheme::http) {
    out.scheme = "http";
  } else if (url.scheme_id() == boost::urls::scheme::https) {
    out.scheme = "https";
  } else {
    refuse(text, "the scheme must be http or https");
  }
  if (!url.has_authority() || url.encoded_host().empty()) refuse(text, "no host");
  if (url.has_userinfo()) refuse(text, "userinfo (user:password@) is not allowed");
  switch (url.host_type()) {
    case boost::urls::host_type::ipv4:
    case boost::urls::host_type::ipv6:
      out.host = ascii_lower(url.host_address());
      break;
    case boost::urls::host_type::name:
      out.host = ascii_lower(url.host_address());
      if (!plain_host_name(out.host)) refuse(text, "the host is not a plain DNS name");
      break;
    default:
      refuse(text, "unsupported host");
  }
  out.port = out.scheme == "https" ? 443 : 80;
  if (url.has_port() && !url.port().empty()) {
    const std::string_view port = url.port();
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535) {
      refuse(text, "the port must be 1 to 65535");
    }
    out.port = static_cast<uint16_t>(value);
  }
  for (const std::string segment : url.segments()) {
    if (segment == "." || segment == ".." || segment.find_first_of("/\\") != std::string::npos) {
      refuse(text, "the path has a \".\" or \"..\" segment or an encoded slash");
    }
  }
  out.path = std::string(url.encoded_path());
  if (out.path.empty()) out.path = "/";
  if (out.path.front() != '/') refuse(text, "the path must start with '/'");
  out.target = out.path;
  if (url.has_query()) out.target += "?" + std::string(url.encoded_query());
  return out;
}

WebhookAllowlist::WebhookAllowlist(const std::vector<std::string>& entries) {
  for (const std::string& entry : entries) {
    WebhookUrl prefix;
    try {
      prefix = parse_webhook_url(entry);
    } catch (const Error& e) {
      throw_error(ErrorCode::kInvalidArgument, "webhook allowlist entry \"{}\" is not a URL prefix: {}", entry,
                  e.what());
    }
    if (prefix.target != prefix.path) {
      throw_error(ErrorCode::kInvalidArgument, "webhook allowlist entry \"{}\" has a query; give a URL prefix",
                  entry);
    }
    entries_.push_back(std::move(prefix));
  }
}

std::optional<std::string> WebhookAllowlist::check(std::string_view url) const {
  WebhookUrl target;
  try {
    target = parse_webhook_url(url);
  } catch (const Error& e) {
    return std::string(e.what());
  }
  if (entries_.empty()) {
    return fmt::format("webhook URL \"{}\" is not allowed: no webhook targets are configured", url);
  }
  for (const WebhookUrl& entry : entries_) {
    if (entry.scheme == target.scheme && entry.host == target.host && entry.port == target.port &&
        path_within(target.path, entry.path)) {
      return std::nullopt;
    }
  }
  return fmt::format("webhook URL \"{}\" is not on the webhook allowlist", url);
}

}  // namespace tether::jobs
