#include "http/multipart.h"

#include <algorithm>
#include <cctype>
#include <optional>
#include <utility>

#include "common/ascii.h"
#include "common/error.h"

namespace tether::http {

namespace {

constexpr size_t kMaxBoundaryChars = 70;  // RFC 2046, section 5.1.1

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

bool is_boundary_char(char c) {
  if (std::isalnum(static_cast<unsigned char>(c))) return true;
  return std::string_view("'()+_,-./:=? ").find(c) != std::string_view::npos;
}

// The media type and `;`-separated parameters of a header value, parameter
// names lower-cased; values are tokens or quoted strings (with \ escapes).
struct HeaderValue {
  std::string type;
  std::vector<std::pair<std::string, std::string>> params;

  std::optional<std::string> param(std::string_view name) const {
    for (const auto& [key, value] : params) {
      if (key == name) return value;
    }
    return std::nullopt;
  }
};

HeaderValue parse_header_value(std::string_view text, std::string_view what) {
  HeaderValue out;
  size_t pos = text.find(';');
  out.type = ascii_lower(trim(text.substr(0, pos)));
  while (pos != std::string_view::npos && pos < text.size()) {
    ++pos;  // past ';'
    while (pos < text.size() && (text[pos] == ' ' || text[pos] == '\t')) ++pos;
    if (pos >= text.size()) break;
    const size_t equals = text.find('=', pos);
    if (equals == std::string_view::npos) {
      throw_error(ErrorCode::kCorruptData, "{}: parameter '{}' has no value", what, trim(text.substr(pos)));
    }
    std::string name = ascii_lower(trim(text.substr(pos, equals - pos)));
    if (name.empty()) throw_error(ErrorCode::kCorruptData, "{}: a parameter has no name", what);
    pos = equals + 1;
    while (pos < text.size() && (text[pos] == ' ' || text[pos] == '\t')) ++pos;
    std::string value;
    if (pos < text.size() && text[pos] == '"') {
      ++pos;
      bool closed = false;
      while (pos < text.size()) {
        const char c = text[pos++];
        if (c == '"') {
          closed = true;
          break;
        }
        if (c == '\\') {
          if (pos >= text.size()) break;
          value.push_back(text[pos++]);
        } else {
          value.push_back(c);
        }
      }
      if (!closed) throw_error(ErrorCode::kCorruptData, "{}: parameter '{}' has an unterminated quote", what, name);
      pos = text.find(';', pos);
    } else {
      const size_t end = text.find(';', pos);
      value = std::string(trim(text.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos)));
      pos = end;
    }
    out.params.emplace_back(std::move(name), std::move(value));
  }
  return out;
}

}  // namespace

std::string multipart_boundary(std::string_view content_type) {
  const HeaderValue value = parse_header_value(content_type, "content-type");
  if (value.type != "multipart/form-data") {
    throw_error(ErrorCode::kInvalidArgument, "expected a multipart/form-data body, not '{}'", value.type);
  }
  const std::optional<std::string> boundary = value.param("boundary");
  if (!boundary || boundary->empty()) {
    throw_error(ErrorCode::kInvalidArgument, "the multipart/form-data content-type names no boundary");
  }
  if (boundary->size() > kMaxBoundaryChars) {
    throw_error(ErrorCode::kInvalidArgument, "the multipart boundary is {} characters long; at most {} are allowed",
                boundary->size(), kMaxBoundaryChars);
  }
  if (!std::all_of(boundary->begin(), boundary->end(), is_boundary_char) || boundary->back() == ' ') {
    throw_error(ErrorCode::kInvalidArgument, "the multipart boundary holds characters RFC 2046 does not allow");
  }
  return *boundary;
}

std::vector<MultipartPart> parse_multipart(std::string_view body, std::string_view boundary,
                                           const MultipartLimits& limits) {
  if (boundary.empty() || boundary.size() > kMaxBoundaryChars) {
    throw_error(ErrorCode::kInvalidArgument, "the multipart boundary must have 1 to {} characters", kMaxBoundaryChars);
  }
  const std::string dash_boundary = "--" + std::string(boundary);
  const std::string delimiter = "\r\n" + dash_boundary;  // every delimiter after the first

  // The first delimiter opens the body or follows the preamble's CRLF.
  size_t pos = 0;
  if (body.substr(0, dash_boundary.size()) != dash_boundary) {
    const size_t found = body.find(delimiter);
    if (found == std::string_view::npos) {
      throw_error(ErrorCode::kCorruptData, "the multipart body has no delimiter line '{}'", dash_boundary);
    }
    pos = found + 2;
  }

  std::vector<MultipartPart> parts;
  for (;;) {
    // At a delimiter: "--boundary", then "--" (the last) or padding and CRLF.
    pos += dash_boundary.size();
    if (body.substr(pos, 2) == "--") return parts;  // the epilogue is ignored
    while (pos < body.size() && (body[pos] == ' ' || body[pos] == '\t')) ++pos;
    if (body.substr(pos, 2) != "\r\n") {
      throw_error(ErrorCode::kCorruptData, "multipart part {}: the delimiter line does not end with CRLF",
                  parts.size() + 1);
    }
    pos += 2;
    if (parts.size() >= limits.max_parts) {
      throw_error(ErrorCode::kInvalidArgument, "the multipart body has more than {} parts", limits.max_parts);
    }
    const size_t part_number = parts.size() + 1;

    // Header lines up to the blank line.
    const size_t headers_end = body.find("\r\n\r\n", pos);
    size_t header_bytes = 0;
    if (body.substr(pos, 2) == "\r\n") {
      header_bytes = 0;  // no headers at all
    } else if (headers_end == std::string_view::npos) {
      throw_error(ErrorCode::kCorruptData, "multipart part {}: its headers do not end with a blank line", part_number);
    } else {
      header_bytes = headers_end + 2 - pos;  // including the last header's CRLF
    }
    if (header_bytes > limits.max_part_header_bytes) {
      throw_error(ErrorCode::kInvalidArgument, "multipart part {}: its headers exceed {} bytes", part_number,
                  limits.max_part_header_bytes);
    }
    MultipartPart part;
    bool has_disposition = false;
    size_t header_count = 0;
    std::string_view headers = body.substr(pos, header_bytes);
    while (!headers.empty()) {
      const size_t line_end = headers.find("\r\n");  // present: the block ends with CRLF
      const std::string_view line = headers.substr(0, line_end);
      headers.remove_prefix(line_end + 2);
      if (++header_count > limits.max_headers_per_part) {
        throw_error(ErrorCode::kInvalidArgument, "multipart part {}: more than {} headers", part_number,
                    limits.max_headers_per_part);
      }
      const size_t colon = line.find(':');
      if (colon == std::string_view::npos || colon == 0) {
        throw_error(ErrorCode::kCorruptData, "multipart part {}: malformed header line", part_number);
      }
      const std::string name = ascii_lower(trim(line.substr(0, colon)));
      const std::string_view value = trim(line.substr(colon + 1));
      if (name == "content-disposition") {
        const HeaderValue disposition = parse_header_value(value, "content-disposition");
        if (disposition.type != "form-data") {
          throw_error(ErrorCode::kCorruptData, "multipart part {}: content-disposition must be form-data, not '{}'",
                      part_number, disposition.type);
        }
        part.name = disposition.param("name").value_or("");
        part.filename = disposition.param("filename").value_or("");
        has_disposition = true;
      } else if (name == "content-type") {
        part.content_type = std::string(value);
      }
    }
    if (!has_disposition || part.name.empty()) {
      throw_error(ErrorCode::kCorruptData, "multipart part {}: no content-disposition with a name", part_number);
    }
    pos += header_bytes + 2;  // past the blank line

    // The data runs to the next delimiter, whose CRLF belongs to it.
    const size_t data_end = body.find(delimiter, pos);
    if (data_end == std::string_view::npos) {
      throw_error(ErrorCode::kCorruptData, "multipart part {} ('{}') has no closing delimiter", part_number,
                  part.name);
    }
    part.data = std::string(body.substr(pos, data_end - pos));
    parts.push_back(std::move(part));
    pos = data_end + 2;
  }
}

}  // namespace tether::http
