// libFuzzer target: the outside bytes of the async API. The first byte picks
// the parser: a multipart/form-data body (boundary from a fixed header or
// from the input's own Content-Type line), or an OpenAI batch input file
// (JSONL). Every input parses or fails with the parser's own error type;
// nothing crashes, and what parses stays inside the input.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "api/batch_input.h"
#include "common/error.h"
#include "http/http_error.h"
#include "http/multipart.h"

namespace {

namespace http = tether::http;

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "async_input_fuzz: %s\n", what);
    std::abort();
  }
}

void fuzz_multipart(std::string_view input) {
  std::string boundary = "XyZ";
  // An input starting with a Content-Type line names its own boundary.
  if (const size_t eol = input.find('\n'); eol != std::string_view::npos && input.substr(0, 10) == "multipart/") {
    try {
      boundary = http::multipart_boundary(input.substr(0, eol));
    } catch (const tether::Error&) {
      return;
    }
    input.remove_prefix(eol + 1);
  }
  http::MultipartLimits limits;
  limits.max_parts = 8;
  try {
    const auto parts = http::parse_multipart(input, boundary, limits);
    check(parts.size() <= limits.max_parts, "more parts than the limit");
    size_t data_bytes = 0;
    for (const auto& part : parts) data_bytes += part.data.size();
    check(data_bytes <= input.size(), "parts hold more bytes than the body");
  } catch (const tether::Error&) {
  }
}

void fuzz_batch_input(std::string_view input) {
  try {
    const tether::api::BatchInput batch = tether::api::parse_batch_input(input, "/v1/chat/completions", 64);
    check(!batch.items.empty() && batch.items.size() <= 64, "a parsed batch has 1 to max requests");
    check(!batch.model.empty(), "a parsed batch names its model");
  } catch (const http::HttpError& e) {
    check(e.status() == 400, "a bad batch file is a 400");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  if (data[0] % 2 == 0) {
    fuzz_multipart(input);
  } else {
    fuzz_batch_input(input);
  }
  return 0;
}
