#include "constrain/json_schema_compiler.h"

#include <memory>
#include <string>
#include <vector>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "common/error.h"
#include "constrain/grammar.h"
#include "constrain/grammar_matcher.h"
#include "constrain/grammar_program.h"
#include "constrain/vocabulary.h"

namespace tether::constrain {
namespace {

namespace json = boost::json;

json::value parse_deep(const std::string& text) {
  json::parse_options options;
  options.max_depth = 2000;
  return json::parse(text, {}, options);
}

std::string error_of(const std::string& schema) {
  try {
    json_schema(parse_deep(schema));
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::kInvalidArgument);
    return error.what();
  }
  return "";
}

// Whether `text` is a full match of `schema` (a byte-level check through
// the matcher, one byte a token).
bool matches(const std::string& schema, const std::string& text, JsonOptions options = {}) {
  std::vector<std::string> bytes;
  for (int b = 0; b < 256; ++b) bytes.emplace_back(1, static_cast<char>(b));
  auto vocabulary = std::make_shared<const Vocabulary>(std::move(bytes), std::vector<TokenId>{});
  GrammarMatcher matcher(std::make_shared<const GrammarProgram>(json_schema(json::parse(schema), options)),
                         vocabulary);
  return matcher.accept_bytes(text) && matcher.complete();
}

TEST(JsonSchemaCompilerTest, UnsupportedKeywordsAreNamed) {
  EXPECT_NE(error_of(R"({"type": "string", "pattern": "^a"})").find("'pattern'"), std::string::npos);
  EXPECT_NE(error_of(R"({"type": "integer", "multipleOf": 3})").find("'multipleOf'"), std::string::npos);
  EXPECT_NE(error_of(R"({"properties": {"a": {"not": {}}}})").find("'not'"), std::string::npos);
  EXPECT_NE(error_of(R"({"type": "array", "uniqueItems": true})").find("'uniqueItems'"), std::string::npos);
}

TEST(JsonSchemaCompilerTest, UnsupportedKeywordsCanBeIgnoredOnRequest) {
  const std::string schema = R"({"type": "object", "properties": {"n": {"type": "integer", "multipleOf": 3},
      "s": {"type": "string", "pattern": "^a"}}, "required": ["n", "s"]})";
  EXPECT_NE(error_of(schema).find("'multipleOf'"), std::string::npos);
  EXPECT_TRUE(matches(schema, R"({"n": 1, "s": "b"})", {.ignore_unsupported = true}));
}

TEST(JsonSchemaCompilerTest, MalformedSchemasGiveClearErrors) {
  EXPECT_NE(error_of(R"(42)").find("must be an object or a boolean"), std::string::npos);
  EXPECT_NE(error_of(R"({"type": "strin"})").find("unknown type"), std::string::npos);
  EXPECT_NE(error_of(R"({"enum": []})").find("'enum'"), std::string::npos);
  EXPECT_NE(error_of(R"({"anyOf": {}})").find("'anyOf'"), std::string::npos);
  EXPECT_NE(error_of(R"({"type": "array", "maxItems": -1})").find("'maxItems'"), std::string::npos);
  EXPECT_NE(error_of(R"({"type": "string", "maxLength": 1e12})").find("'maxLength'"), std::string::npos);
  EXPECT_NE(error_of(R"({"$ref": "#/$defs/missing"})").find("not found"), std::string::npos);
  EXPECT_NE(error_of(R"({"$ref": "https://example.com/s.json"})").find("local"), std::string::npos);
  EXPECT_NE(error_of(R"(false)").find("no value"), std::string::npos);
  EXPECT_NE(error_of(R"({"type": "object", "properties": {"a": false}, "required": ["a"]})").find("no value"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"$ref": "#"})").find("no value"), std::string::npos);  // only ever itself
}

TEST(JsonSchemaCompilerTest, DepthAndSizeAreBounded) {
  std::string deep;
  for (int i = 0; i < 200; ++i) deep += R"({"type": "array", "items": )";
  deep += "{}";
  for (int i = 0; i < 200; ++i) deep += "}";
  EXPECT_NE(error_of(deep).find("deeper"), std::string::npos);
  // A diamond of references: 2^14 paths, shared, so cheap.
  std::string defs;
  for (int i = 0; i < 14; ++i) {
    defs += fmt::format(R"("d{}": {{"type": "array", "maxItems": 1, "items": {{"anyOf": [{{"$ref": "#/$defs/d{}"}}, {{"$ref": "#/$defs/d{}"}}]}}}},)",
                        i, i + 1, i + 1);
  }
  defs += R"("d14": {"type": "integer"})";
  EXPECT_NO_THROW(json_schema(json::parse(R"({"$ref": "#/$defs/d0", "$defs": {)" + defs + "}}")));
  // Many properties: linear, but the work bound still applies.
  std::string wide = R"({"type": "object", "properties": {)";
  for (int i = 0; i < 12000; ++i) wide += fmt::format(R"({}"p{}": {{"type": "integer"}})", i ? "," : "", i);
  wide += "}}";
  EXPECT_NE(error_of(wide).find("too large"), std::string::npos);
}

TEST(JsonSchemaCompilerTest, AnnotationsAndUnknownKeywordsAreIgnored) {
  EXPECT_TRUE(matches(R"({"type": "string", "description": "d", "title": "t", "format": "date", "x-y": 1})",
                      R"("2024")"));
}

TEST(JsonSchemaCompilerTest, PropertiesInSchemaOrderOptionalOnesSkippable) {
  const std::string schema = R"({"type": "object", "properties": {"a": {"type": "integer"},
      "b": {"type": "boolean"}, "c": {"type": "null"}}, "required": ["b"]})";
  EXPECT_TRUE(matches(schema, R"({"a": 1, "b": true, "c": null})"));
  EXPECT_TRUE(matches(schema, R"({"b": false})"));
  EXPECT_TRUE(matches(schema, R"({"b": true, "c": null})"));
  EXPECT_FALSE(matches(schema, R"({"a": 1})"));                 // b required
  EXPECT_FALSE(matches(schema, R"({"b": true, "a": 1})"));      // schema order
  EXPECT_FALSE(matches(schema, R"({"b": true, "d": 1})"));      // no extras
  EXPECT_FALSE(matches(schema, R"({, "b": true})"));
}

TEST(JsonSchemaCompilerTest, WhitespaceIsBounded) {
  const std::string schema = R"({"type": "array", "items": {"type": "integer"}})";
  EXPECT_TRUE(matches(schema, "[1, 2,\n3 ]"));
  EXPECT_FALSE(matches(schema, "[1,  2]"));
  EXPECT_TRUE(matches(schema, "[1,  2]", {.max_whitespace = 2}));
  EXPECT_FALSE(matches(schema, "[1, 2]", {.max_whitespace = 0}));
  EXPECT_TRUE(matches(schema, "[1,2]", {.max_whitespace = 0}));
}

TEST(JsonSchemaCompilerTest, NumbersAreJsonNumbersWithBoundedDigits) {
  EXPECT_TRUE(matches(R"({"type": "number"})", "-12.5e+3"));
  EXPECT_TRUE(matches(R"({"type": "number"})", "0.25"));
  EXPECT_FALSE(matches(R"({"type": "number"})", "01"));
  EXPECT_FALSE(matches(R"({"type": "integer"})", "1.5"));
  EXPECT_FALSE(matches(R"({"type": "integer"})", "12345678901234567"));  // 17 digits
  EXPECT_TRUE(matches(R"({"type": "integer"})", "1234567890123456"));
}

TEST(JsonSchemaCompilerTest, IntegerBoundsExactly) {
  const std::string schema = R"({"type": "integer", "minimum": -23, "maximum": 117})";
  for (int v = -40; v <= 140; ++v) {
    EXPECT_EQ(matches(schema, std::to_string(v)), v >= -23 && v <= 117) << v;
  }
  EXPECT_FALSE(matches(schema, "007"));
  EXPECT_FALSE(matches(schema, "-0"));
  const std::string exclusive = R"({"type": "integer", "exclusiveMinimum": 9, "exclusiveMaximum": 1000})";
  EXPECT_FALSE(matches(exclusive, "9"));
  EXPECT_TRUE(matches(exclusive, "10"));
  EXPECT_TRUE(matches(exclusive, "999"));
  EXPECT_FALSE(matches(exclusive, "1000"));
  const std::string draft4 = R"({"type": "integer", "minimum": 0, "exclusiveMinimum": true})";
  EXPECT_FALSE(matches(draft4, "0"));
  EXPECT_TRUE(matches(draft4, "1"));
  EXPECT_TRUE(matches(draft4, "1234567890123456"));
  EXPECT_NE(error_of(R"({"type": "integer", "minimum": 5, "maximum": 4})").find("no value"), std::string::npos);
  // Wide ranges stay small grammars (digit ranges are linear in the length).
  const std::string wide = R"({"type": "integer", "minimum": -1234567890123, "maximum": 9876543210987654})";
  EXPECT_LT(GrammarProgram(json_schema(json::parse(wide))).size(), 2000u);
  EXPECT_TRUE(matches(wide, "-1234567890123"));
  EXPECT_FALSE(matches(wide, "-1234567890124"));
  EXPECT_TRUE(matches(wide, "9876543210987654"));
  EXPECT_FALSE(matches(wide, "9876543210987655"));
  EXPECT_TRUE(matches(wide, "5555555555555555"));
  EXPECT_LT(GrammarProgram(json_schema(json::parse(R"({"type": "number", "exclusiveMaximum": 2.5})"))).size(), 2000u);
}

TEST(JsonSchemaCompilerTest, NumberBoundsStayInside) {
  const std::string unit = R"({"type": "number", "minimum": 0, "maximum": 1})";
  EXPECT_TRUE(matches(unit, "0"));
  EXPECT_TRUE(matches(unit, "0.25"));
  EXPECT_TRUE(matches(unit, "1"));
  EXPECT_FALSE(matches(unit, "1.5"));
  EXPECT_FALSE(matches(unit, "-0.5"));
  EXPECT_FALSE(matches(unit, "1e3"));
  const std::string negative = R"({"type": "number", "minimum": -2.5, "maximum": 3.7})";
  EXPECT_TRUE(matches(negative, "-1.75"));
  EXPECT_TRUE(matches(negative, "-2"));
  EXPECT_FALSE(matches(negative, "-2.9"));
  EXPECT_TRUE(matches(negative, "2.99"));
  EXPECT_FALSE(matches(negative, "3.5"));  // past the last integer: left out
  EXPECT_FALSE(matches(negative, "4"));
}

TEST(JsonSchemaCompilerTest, FreeFormObjectsAndAdditionalPropertiesSchemas) {
  EXPECT_TRUE(matches(R"({"type": "object"})", R"({"x": [1, {"y": null}], "z": "s"})"));
  EXPECT_TRUE(matches(R"({"type": "object", "additionalProperties": {"type": "integer"}})", R"({"x": 1, "y": 2})"));
  EXPECT_FALSE(matches(R"({"type": "object", "additionalProperties": {"type": "integer"}})", R"({"x": "s"})"));
  EXPECT_TRUE(matches(R"({"type": "object", "additionalProperties": false})", "{}"));
  EXPECT_FALSE(matches(R"({"type": "object", "additionalProperties": false})", R"({"x": 1})"));
}

}  // namespace
}  // namespace tether::constrain
