#include "http/multipart.h"

#include <string>

#include <gtest/gtest.h>

#include "common/error.h"

namespace tether::http {
namespace {

std::string form(const std::string& boundary, const std::string& parts_text) {
  return parts_text + "--" + boundary + "--\r\n";
}

std::string part(const std::string& boundary, const std::string& headers, const std::string& data) {
  return "--" + boundary + "\r\n" + headers + "\r\n" + data + "\r\n";
}

void expect_error(const std::string& body, const std::string& boundary, ErrorCode code, const std::string& words,
                  const MultipartLimits& limits = {}) {
  try {
    parse_multipart(body, boundary, limits);
    FAIL() << "parsed: " << body;
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), code) << error.what();
    EXPECT_NE(std::string(error.what()).find(words), std::string::npos) << error.what();
  }
}

TEST(MultipartBoundaryTest, ReadsTokenAndQuotedBoundaries) {
  EXPECT_EQ(multipart_boundary("multipart/form-data; boundary=abc123"), "abc123");
  EXPECT_EQ(multipart_boundary("Multipart/Form-Data;charset=utf-8; BOUNDARY=\"a b:c\""), "a b:c");
  EXPECT_EQ(multipart_boundary("multipart/form-data; boundary=----WebKitFormBoundary7MA4YWxkTrZu0gW"),
            "----WebKitFormBoundary7MA4YWxkTrZu0gW");
}

TEST(MultipartBoundaryTest, RefusesOtherTypesAndBadBoundaries) {
  auto code_of = [](const std::string& content_type) {
    try {
      multipart_boundary(content_type);
    } catch (const Error& error) {
      return error.code();
    }
    return ErrorCode::kInternal;
  };
  EXPECT_EQ(code_of("application/json"), ErrorCode::kInvalidArgument);
  EXPECT_EQ(code_of("multipart/form-data"), ErrorCode::kInvalidArgument);
  EXPECT_EQ(code_of("multipart/form-data; boundary="), ErrorCode::kInvalidArgument);
  EXPECT_EQ(code_of("multipart/form-data; boundary=" + std::string(71, 'a')), ErrorCode::kInvalidArgument);
  EXPECT_EQ(code_of("multipart/form-data; boundary=\"a\rb\""), ErrorCode::kInvalidArgument);
  EXPECT_EQ(code_of("multipart/form-data; boundary=\"ab "), ErrorCode::kCorruptData);  // unterminated quote
  EXPECT_EQ(multipart_boundary("multipart/form-data; boundary=" + std::string(70, 'a')), std::string(70, 'a'));
}

TEST(MultipartTest, ParsesFieldsAndFilesAsCurlSendsThem) {
  const std::string b = "------------------------d74496d66958873e";
  const std::string body =
      "preamble to ignore\r\n" +
      form(b, part(b, "Content-Disposition: form-data; name=\"purpose\"\r\n", "batch") +
                  part(b,
                       "Content-Disposition: form-data; name=\"file\"; filename=\"in put.jsonl\"\r\n"
                       "Content-Type: application/octet-stream\r\n",
                       "{\"a\": 1}\r\n{\"b\": \"--x\"}\r\n")) +
      "epilogue";
  const std::vector<MultipartPart> parts = parse_multipart(body, b);
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_EQ(parts[0].name, "purpose");
  EXPECT_EQ(parts[0].data, "batch");
  EXPECT_EQ(parts[0].filename, "");
  EXPECT_EQ(parts[1].name, "file");
  EXPECT_EQ(parts[1].filename, "in put.jsonl");
  EXPECT_EQ(parts[1].content_type, "application/octet-stream");
  // CRLFs inside the data stay; only the one before the delimiter goes.
  EXPECT_EQ(parts[1].data, "{\"a\": 1}\r\n{\"b\": \"--x\"}\r\n");
}

TEST(MultipartTest, KeepsBinaryAndEmptyData) {
  const std::string b = "xyz";
  // NUL bytes, CRLFs and a prefix of the delimiter are data.
  const std::string binary("a\0b\r\n--xy\r\n", 11);
  const std::string body = form(b, part(b, "content-disposition: form-data; name=f; filename=x.bin\r\n", binary) +
                                       part(b, "content-disposition: form-data; name=\"empty\"\r\n", ""));
  const std::vector<MultipartPart> parts = parse_multipart(body, b);
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_EQ(parts[0].data, binary);
  EXPECT_EQ(parts[0].filename, "x.bin");
  EXPECT_EQ(parts[1].data, "");
}

TEST(MultipartTest, AcceptsAnEmptyForm) {
  EXPECT_TRUE(parse_multipart("--b--\r\n", "b").empty());
}

TEST(MultipartTest, NamesEachMalformation) {
  const std::string b = "bnd";
  const std::string disposition = "Content-Disposition: form-data; name=\"f\"\r\n";
  expect_error("no delimiter at all", b, ErrorCode::kCorruptData, "no delimiter");
  expect_error("--bnd\r\n" + disposition + "\r\ndata that never ends", b, ErrorCode::kCorruptData,
               "no closing delimiter");
  expect_error("--bnd\r\n" + disposition + "data without the blank line", b, ErrorCode::kCorruptData,
               "blank line");
  expect_error("--bnd", b, ErrorCode::kCorruptData, "CRLF");
  expect_error("--bndjunk\r\n", b, ErrorCode::kCorruptData, "CRLF");
  expect_error(form(b, part(b, "Content-Type: text/plain\r\n", "x")), b, ErrorCode::kCorruptData,
               "no content-disposition");
  expect_error(form(b, part(b, "Content-Disposition: attachment; name=\"f\"\r\n", "x")), b, ErrorCode::kCorruptData,
               "form-data");
  expect_error(form(b, part(b, "no colon here\r\n", "x")), b, ErrorCode::kCorruptData, "malformed header");
  expect_error(form(b, part(b, "Content-Disposition: form-data; name=\"f\r\n", "x")), b, ErrorCode::kCorruptData,
               "unterminated quote");
  expect_error(form(b, part(b, "Content-Disposition: form-data; name\r\n", "x")), b, ErrorCode::kCorruptData,
               "no value");
  expect_error(form(b, part(b, "\r\n", "x")), b, ErrorCode::kCorruptData, "no content-disposition");
}

TEST(MultipartTest, EnforcesItsLimits) {
  const std::string b = "b";
  const std::string disposition = "Content-Disposition: form-data; name=\"f\"\r\n";
  std::string many;
  for (int i = 0; i < 3; ++i) many += part(b, disposition, "x");
  MultipartLimits limits;
  limits.max_parts = 2;
  expect_error(form(b, many), b, ErrorCode::kInvalidArgument, "more than 2 parts", limits);

  limits = {};
  limits.max_part_header_bytes = 64;
  expect_error(form(b, part(b, disposition + "X-Long: " + std::string(100, 'y') + "\r\n", "x")), b,
               ErrorCode::kInvalidArgument, "exceed 64 bytes", limits);

  limits = {};
  limits.max_headers_per_part = 2;
  expect_error(form(b, part(b, disposition + "A: 1\r\nB: 2\r\n", "x")), b, ErrorCode::kInvalidArgument,
               "more than 2 headers", limits);
  expect_error("--b--", std::string(71, 'b'), ErrorCode::kInvalidArgument, "1 to 70");
}

}  // namespace
}  // namespace tether::http
