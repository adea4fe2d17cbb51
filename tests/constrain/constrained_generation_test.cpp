// Grammar-constrained generation end to end on the random-weight tiny model:
// whatever the weights, the output parses and validates.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "chat/tool_call_format.h"
#include "chat/tool_call_grammar.h"
#include "chat/tool_call_parser.h"
#include "common/error.h"
#include "constrain/grammar.h"
#include "constrain/grammar_matcher.h"
#include "constrain/grammar_program.h"
#include "constrain/vocabulary.h"
#include "engine/generation/generator.h"
#include "engine/kernels/thread_pool.h"
#include "sched/engine_test_support.h"

namespace tether::constrain {
namespace {

namespace json = boost::json;
using generation::FinishReason;
using generation::GenerationRequest;
using generation::GenerationResult;

// A validator for the supported subset, independent of the compiler.
class Validator {
 public:
  explicit Validator(const json::value& root) : root_(root) {}

  bool valid(const json::value& value) const { return check(root_, value, 0); }

 private:
  const json::value& resolve(const std::string& ref) const {
    if (ref == "#") return root_;
    return root_.at_pointer(std::string_view(ref).substr(1));
  }

  static bool type_ok(const std::string& type, const json::value& value) {
    if (type == "object") return value.is_object();
    if (type == "array") return value.is_array();
    if (type == "string") return value.is_string();
    if (type == "number") return value.is_number();
    if (type == "integer") return value.is_int64() || value.is_uint64();
    if (type == "boolean") return value.is_bool();
    if (type == "null") return value.is_null();
    return false;
  }

  static int64_t chars(const json::string& s) {
    int64_t n = 0;
    for (const char c : s) n += (static_cast<uint8_t>(c) & 0xC0) != 0x80;
    return n;
  }

  bool check(const json::value& schema, const json::value& value, int depth) const {
    if (depth > 200) return false;
    if (schema.is_bool()) return schema.as_bool();
    const json::object& s = schema.as_object();
    if (const auto* ref = s.if_contains("$ref")) {
      if (!check(resolve(std::string(ref->as_string())), value, depth + 1)) return false;
    }
    if (const auto* all = s.if_contains("allOf")) {
      for (const auto& sub : all->as_array()) {
        if (!check(sub, value, depth + 1)) return false;
      }
    }
    for (const char* key : {"anyOf", "oneOf"}) {
      if (const auto* any = s.if_contains(key)) {
        bool one = false;
        for (const auto& sub : any->as_array()) one = one || check(sub, value, depth + 1);
        if (!one) return false;
      }
    }
    if (const auto* type = s.if_contains("type")) {
      bool ok = false;
      if (type->is_string()) {
        ok = type_ok(std::string(type->as_string()), value);
      } else {
        for (const auto& t : type->as_array()) ok = ok || type_ok(std::string(t.as_string()), value);
      }
      if (!ok) return false;
    }
    if (const auto* c = s.if_contains("const")) {
      if (*c != value) return false;
    }
    if (const auto* e = s.if_contains("enum")) {
      bool found = false;
      for (const auto& v : e->as_array()) found = found || v == value;
      if (!found) return false;
    }
    if (value.is_number()) {
      const double d = value.to_number<double>();
      if (const auto* m = s.if_contains("minimum"); m && d < m->to_number<double>()) return false;
      if (const auto* m = s.if_contains("maximum"); m && d > m->to_number<double>()) return false;
      if (const auto* m = s.if_contains("exclusiveMinimum"); m && d <= m->to_number<double>()) return false;
      if (const auto* m = s.if_contains("exclusiveMaximum"); m && d >= m->to_number<double>()) return false;
    }
    if (value.is_string()) {
      const int64_t n = chars(value.as_string());
      if (const auto* m = s.if_contains("minLength"); m && n < m->to_number<int64_t>()) return false;
      if (const auto* m = s.if_contains("maxLength"); m && n > m->to_number<int64_t>()) return false;
    }
    if (value.is_array()) {
      const auto n = static_cast<int64_t>(value.as_array().size());
      if (const auto* m = s.if_contains("minItems"); m && n < m->to_number<int64_t>()) return false;
      if (const auto* m = s.if_contains("maxItems"); m && n > m->to_number<int64_t>()) return false;
      if (const auto* items = s.if_contains("items")) {
        for (const auto& item : value.as_array()) {
          if (!check(*items, item, depth + 1)) return false;
        }
      }
    }
    if (value.is_object()) {
      const json::object& o = value.as_object();
      if (const auto* required = s.if_contains("required")) {
        for (const auto& name : required->as_array()) {
          if (!o.contains(name.as_string())) return false;
        }
      }
      const json::object* properties = nullptr;
      if (const auto* p = s.if_contains("properties")) properties = &p->as_object();
      const json::value* additional = s.if_contains("additionalProperties");
      for (const auto& [key, member] : o) {
        if (properties != nullptr && properties->contains(key)) {
          if (!check(properties->at(key), member, depth + 1)) return false;
        } else if (additional != nullptr && !check(*additional, member, depth + 1)) {
          return false;
        }
      }
    }
    return true;
  }

  const json::value& root_;
};

class ConstrainedGenerationTest : public ::testing::Test {
 protected:
  ConstrainedGenerationTest()
      : tokenizer_(sched::testing::tiny_tokenizer()),
        model_(sched::testing::load_tiny_model()),
        vocabulary_(std::make_shared<const Vocabulary>(*tokenizer_)),
        pool_(1) {}

  // Samples `n` sequences at temperature 1 under `grammar`.
  std::vector<GenerationResult> sample(const Grammar& grammar, int n, int32_t max_tokens = 400,
                                       uint64_t seed = 1) {
    std::vector<GenerationRequest> requests;
    const auto factory = compile(grammar, vocabulary_);
    for (int i = 0; i < n; ++i) {
      GenerationRequest request;
      request.prompt = "Answer in JSON: " + std::to_string(i);
      request.max_tokens = max_tokens;
      request.sampling.temperature = 1.0f;
      request.sampling.seed = seed * 1000 + static_cast<uint64_t>(i);
      request.constraint = factory;
      requests.push_back(std::move(request));
    }
    generation::Generator generator(*model_, *tokenizer_, pool_);
    return generator.generate(requests);
  }

  // Every sample of `schema` parses, validates and ends with "stop".
  void expect_valid(const char* schema_text, int n = 12) {
    const json::value schema = json::parse(schema_text);
    const Validator validator(schema);
    for (const GenerationResult& result : sample(json_schema(schema), n)) {
      EXPECT_EQ(result.finish_reason, FinishReason::kStop) << schema_text << "\n" << result.text;
      boost::system::error_code error;
      const json::value value = json::parse(result.text, error);
      ASSERT_FALSE(error) << schema_text << "\n" << result.text;
      EXPECT_TRUE(validator.valid(value)) << schema_text << "\n" << result.text;
    }
  }

  std::shared_ptr<const tokenizer::Tokenizer> tokenizer_;
  std::shared_ptr<model::LlamaModel> model_;
  std::shared_ptr<const Vocabulary> vocabulary_;
  kernels::ThreadPool pool_;
};

TEST_F(ConstrainedGenerationTest, ScalarTypes) {
  expect_valid(R"({"type": "integer"})");
  expect_valid(R"({"type": "number"})");
  expect_valid(R"({"type": "boolean"})");
  expect_valid(R"({"type": "null"})");
  expect_valid(R"({"type": "string", "minLength": 2, "maxLength": 8})");
  expect_valid(R"({"type": ["string", "null", "integer"], "maxLength": 5})");
}

TEST_F(ConstrainedGenerationTest, NumericBounds) {
  expect_valid(R"({"type": "integer", "minimum": -23, "maximum": 117})");
  expect_valid(R"({"type": "integer", "exclusiveMinimum": 0})");
  expect_valid(R"({"type": "number", "minimum": -2.5, "exclusiveMaximum": 3})");
  expect_valid(R"({"enum": [1, 5, 9], "minimum": 3})");
}

TEST_F(ConstrainedGenerationTest, EnumAndConst) {
  expect_valid(R"({"enum": ["red", "green", 3, null, {"a": [1]}]})");
  expect_valid(R"({"type": "string", "enum": ["red", "green", 3]})");
  expect_valid(R"({"const": {"k": "v", "n": [1, 2.5, true]}})");
}

TEST_F(ConstrainedGenerationTest, ObjectsWithRequiredAndOptionalProperties) {
  expect_valid(R"({"type": "object", "properties": {
      "name": {"type": "string", "maxLength": 6},
      "age": {"type": "integer"},
      "tags": {"type": "array", "items": {"enum": ["a", "b"]}, "maxItems": 3},
      "extra": {"type": "boolean"}},
    "required": ["age", "name"], "additionalProperties": false})");
  expect_valid(R"({"type": "object", "properties": {"a": {"type": "null"}, "b": {"type": "null"},
      "c": {"type": "null"}}, "additionalProperties": false})");
}

TEST_F(ConstrainedGenerationTest, ArraysWithBounds) {
  expect_valid(R"({"type": "array", "items": {"type": "integer"}, "minItems": 2, "maxItems": 4})");
  expect_valid(R"({"type": "array", "items": {"type": "boolean"}, "maxItems": 0})");
  expect_valid(R"({"type": "array", "items": {"const": 1}, "minItems": 3, "maxItems": 3})");
}

TEST_F(ConstrainedGenerationTest, NestedAnyOfAndRefs) {
  expect_valid(R"({"type": "object", "properties": {
      "point": {"$ref": "#/$defs/point"},
      "shape": {"anyOf": [{"$ref": "#/definitions/circle"}, {"type": "string", "maxLength": 3}, {"type": "null"}]},
      "kind": {"oneOf": [{"const": "x"}, {"const": "y"}]}},
    "required": ["point", "shape", "kind"], "additionalProperties": false,
    "$defs": {"point": {"type": "object", "properties": {"x": {"type": "number"}, "y": {"type": "number"}},
                        "required": ["x", "y"], "additionalProperties": false}},
    "definitions": {"circle": {"type": "object", "properties": {"r": {"type": "integer"}},
                               "required": ["r"], "additionalProperties": false}}})");
  expect_valid(R"({"allOf": [{"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]},
                            {"required": ["b"], "properties": {"b": {"const": 2}, "a": {"maxLength": 3}}}]})");
}

TEST_F(ConstrainedGenerationTest, RecursiveRefIsUnrolled) {
  expect_valid(R"({"$ref": "#/$defs/node", "$defs": {"node": {"type": "object",
      "properties": {"v": {"type": "integer"}, "next": {"anyOf": [{"$ref": "#/$defs/node"}, {"type": "null"}]}},
      "required": ["v", "next"], "additionalProperties": false}}})");
}

TEST_F(ConstrainedGenerationTest, JsonObjectMode) {
  for (const GenerationResult& result : sample(json_object(), 12, 600)) {
    if (result.finish_reason == FinishReason::kLength) continue;  // a long free-form value
    boost::system::error_code error;
    const json::value value = json::parse(result.text, error);
    ASSERT_FALSE(error) << result.text;
    EXPECT_TRUE(value.is_object()) << result.text;
  }
}

TEST_F(ConstrainedGenerationTest, EngineHonoursTheConstraint) {
  const json::value schema = json::parse(
      R"({"type": "object", "properties": {"ok": {"type": "boolean"}, "n": {"type": "integer"}},
          "required": ["ok", "n"], "additionalProperties": false})");
  const auto factory = compile(json_schema(schema), vocabulary_);
  sched::Engine engine(model_, tokenizer_, sched::testing::small_options(16, 256));
  const Validator validator(schema);
  for (uint64_t seed = 0; seed < 6; ++seed) {
    GenerationRequest request;
    request.prompt = "JSON please";
    request.max_tokens = 100;
    request.sampling.temperature = 1.0f;
    request.sampling.seed = seed;
    request.constraint = factory;
    const GenerationResult result = sched::run_to_completion(engine, sched::testing::make_request(request));
    EXPECT_EQ(result.finish_reason, FinishReason::kStop) << result.text;
    const json::value value = json::parse(result.text);
    EXPECT_TRUE(validator.valid(value)) << result.text;
  }
}

TEST_F(ConstrainedGenerationTest, StopsWhenTheGrammarCompletesEvenWithIgnoreEos) {
  const auto factory = compile(literal("hello world"), vocabulary_);
  GenerationRequest request;
  request.prompt = "x";
  request.max_tokens = 50;
  request.sampling.temperature = 1.0f;
  request.sampling.ignore_eos = true;
  request.constraint = factory;
  generation::Generator generator(*model_, *tokenizer_, pool_);
  const GenerationResult result = generator.generate(std::vector<GenerationRequest>{request})[0];
  EXPECT_EQ(result.text, "hello world");
  EXPECT_EQ(result.finish_reason, FinishReason::kStop);
  EXPECT_LT(result.tokens.size(), 50u);
}

TEST_F(ConstrainedGenerationTest, MaxTokensStillEndsWithLength) {
  const auto factory = compile(literal("hello world, hello world, hello world"), vocabulary_);
  GenerationRequest request;
  request.prompt = "x";
  request.max_tokens = 2;
  request.constraint = factory;
  generation::Generator generator(*model_, *tokenizer_, pool_);
  const GenerationResult result = generator.generate(std::vector<GenerationRequest>{request})[0];
  EXPECT_EQ(result.finish_reason, FinishReason::kLength);
  EXPECT_EQ(result.tokens.size(), 2u);
  EXPECT_EQ(std::string("hello world, hello world, hello world").rfind(result.text, 0), 0u) << result.text;
}

// The fewest tokens of the tiny vocabulary that spell a full match of
// `grammar` (plus its end token): the byte distance of the start state.
int32_t shortest(const Grammar& grammar, const std::shared_ptr<const Vocabulary>& vocabulary) {
  GrammarMatcher matcher(std::make_shared<const GrammarProgram>(grammar), vocabulary);
  return matcher.distance() + 1;
}

// Unbounded strings, free-form objects and open arrays under max_tokens
// just above their shortest completion: without budget-aware masks the
// random model almost never closes a string in time.
TEST_F(ConstrainedGenerationTest, SmallMaxTokensStillCompleteAndValidate) {
  const char* schemas[] = {
      R"({"type": "object", "properties": {"city": {"type": "string"}, "note": {"type": "string", "minLength": 5}},
          "required": ["city", "note"], "additionalProperties": false})",
      R"({"type": "object", "properties": {"tags": {"type": "array", "items": {"type": "string"}, "minItems": 3},
          "n": {"type": "integer"}}, "required": ["tags", "n"], "additionalProperties": false})",
      R"({"type": "array", "items": {"type": "object", "properties": {"k": {"type": "string"}},
          "required": ["k"], "additionalProperties": false}, "minItems": 2})",
      R"({"type": "object"})",
      R"({"type": "object", "properties": {"meta": {"type": "object"}, "s": {"type": "string"}},
          "required": ["meta", "s"]})",
  };
  for (const char* text : schemas) {
    const json::value schema = json::parse(text);
    const Grammar grammar = json_schema(schema);
    const int32_t minimum = shortest(grammar, vocabulary_);
    const Validator validator(schema);
    for (const int32_t slack : {0, 3, 12}) {
      const int32_t max_tokens = std::max(minimum + slack, 30);
      for (const GenerationResult& result : sample(grammar, 8, max_tokens, static_cast<uint64_t>(slack + 7))) {
        EXPECT_EQ(result.finish_reason, FinishReason::kStop) << text << " max_tokens " << max_tokens << "\n"
                                                             << result.text;
        EXPECT_LE(result.tokens.size(), static_cast<size_t>(max_tokens));
        boost::system::error_code error;
        const json::value value = json::parse(result.text, error);
        ASSERT_FALSE(error) << text << " max_tokens " << max_tokens << "\n" << result.text;
        EXPECT_TRUE(validator.valid(value)) << text << "\n" << result.text;
      }
    }
  }
}

TEST_F(ConstrainedGenerationTest, JsonObjectUnderATightBudgetCompletes) {
  for (const int32_t max_tokens : {3, 8, 30}) {
    for (const GenerationResult& result : sample(json_object(), 8, max_tokens, 3)) {
      EXPECT_EQ(result.finish_reason, FinishReason::kStop) << result.text;
      boost::system::error_code error;
      const json::value value = json::parse(result.text, error);
      ASSERT_FALSE(error) << result.text;
      EXPECT_TRUE(value.is_object());
    }
  }
}

TEST_F(ConstrainedGenerationTest, ForcedToolCallsWithUnboundedStringsFitSmallBudgets) {
  const json::array tools = json::parse(R"([
      {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object",
        "properties": {"city": {"type": "string"}, "unit": {"enum": ["c", "f"]},
                       "days": {"type": "array", "items": {"type": "string"}, "minItems": 1}},
        "required": ["city", "unit", "days"], "additionalProperties": false}}},
      {"type": "function", "function": {"name": "search", "parameters": {"type": "object",
        "properties": {"query": {"type": "string", "minLength": 3}}, "required": ["query"],
        "additionalProperties": false}}}])").as_array();
  const json::value weather_schema = tools[0].at("function").at("parameters");
  const json::value search_schema = tools[1].at("function").at("parameters");
  chat::ToolChoice required;
  required.mode = chat::ToolChoice::Mode::kRequired;
  chat::ToolChoice named;
  named.mode = chat::ToolChoice::Mode::kFunction;
  named.function_name = "get_weather";
  for (const chat::ToolCallFormat format :
       {chat::ToolCallFormat::kHermes, chat::ToolCallFormat::kMistral, chat::ToolCallFormat::kLlama3Json,
        chat::ToolCallFormat::kKimiK2, chat::ToolCallFormat::kDeepSeekV31}) {
    for (const bool parallel : {false, true}) {
      for (const chat::ToolChoice& choice : {required, named}) {
        const Grammar grammar = chat::forced_tool_call_grammar(format, tools, choice, parallel);
        const int32_t max_tokens = std::max(60, shortest(grammar, vocabulary_) + 2);
        for (const GenerationResult& result : sample(grammar, 8, max_tokens, parallel ? 12 : 11)) {
          const std::string label = std::string(chat::tool_call_format_name(format)) + "\n" + result.text;
          EXPECT_EQ(result.finish_reason, FinishReason::kStop) << label;
          const chat::ParsedToolCalls parsed = chat::parse_tool_calls(format, result.text);
          ASSERT_GE(parsed.tool_calls.size(), 1u) << label;
          if (!parallel) {
            ASSERT_EQ(parsed.tool_calls.size(), 1u) << label;
          }
          for (const chat::ToolCall& call : parsed.tool_calls) {
            if (choice.mode == chat::ToolChoice::Mode::kFunction) {
              EXPECT_EQ(call.name, "get_weather");
            }
            boost::system::error_code error;
            const json::value arguments = json::parse(call.arguments, error);
            ASSERT_FALSE(error) << label;
            const json::value& schema = call.name == "search" ? search_schema : weather_schema;
            EXPECT_TRUE(Validator(schema).valid(arguments)) << label;
          }
        }
      }
    }
  }
}

TEST_F(ConstrainedGenerationTest, MaxTokensBelowTheShortestCompletionEndsWithLength) {
  // Longer than max_tokens tokens of the longest text could spell.
  constexpr int32_t kMaxTokens = 4;
  const int64_t min_length = static_cast<int64_t>(vocabulary_->trie().depth()) * kMaxTokens + 10;
  const json::value schema = json::parse(R"({"type": "object", "properties": {"s": {"type": "string", "minLength": )" +
                                         std::to_string(min_length) + R"(}}, "required": ["s"]})");
  for (const GenerationResult& result : sample(json_schema(schema), 4, kMaxTokens, 5)) {
    EXPECT_EQ(result.finish_reason, FinishReason::kLength) << result.text;
    EXPECT_EQ(result.tokens.size(), static_cast<size_t>(kMaxTokens));
  }
}

}  // namespace
}  // namespace tether::constrain
