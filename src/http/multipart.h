#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace tether::http {

// One part of a multipart/form-data body (RFC 7578).
struct MultipartPart {
  std::string name;          // Content-Disposition's name
  std::string filename;      // Content-Disposition's filename; "" when absent
  std::string content_type;  // the part's Content-Type; "" when absent
  std::string data;
};

struct MultipartLimits {
  size_t max_parts = 32;
  size_t max_part_header_bytes = 8 * 1024;  // all header lines of one part
  size_t max_headers_per_part = 16;
};

// The boundary named by a Content-Type "multipart/form-data; boundary=...".
// Throws Error(kInvalidArgument) when the type is another one or the
// boundary is missing, empty, longer than 70 characters or holds characters
// RFC 2046 does not allow.
std::string multipart_boundary(std::string_view content_type);

// The parts of `body`, in order. Lines end with CRLF; a preamble before the
// first delimiter and an epilogue after the last are ignored. Throws
// Error(kCorruptData) naming the problem (no delimiter, a part without its
// blank line or its end, a malformed header, a part without a form-data
// name) and Error(kInvalidArgument) past a limit.
std::vector<MultipartPart> parse_multipart(std::string_view body, std::string_view boundary,
                                           const MultipartLimits& limits = {});

}  // namespace tether::http
