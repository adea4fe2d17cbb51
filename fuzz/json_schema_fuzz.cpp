// libFuzzer target: any bytes, parsed as JSON and compiled as a JSON Schema,
// either give a tether::Error or a grammar; a walk through that grammar's
// token masks (tokens chosen by the input) only ever accepts allowed
// tokens, and whenever the output is complete it parses as JSON.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "common/error.h"
#include "constrain/grammar.h"
#include "constrain/grammar_matcher.h"
#include "constrain/grammar_program.h"
#include "constrain/vocabulary.h"

namespace {

namespace constrain = tether::constrain;

// Every byte, plus multi-byte tokens of the kinds real vocabularies have.
std::shared_ptr<const constrain::Vocabulary> fuzz_vocabulary() {
  static const auto vocabulary = [] {
    std::vector<std::string> pieces = {"</s>"};
    for (int b = 0; b < 256; ++b) pieces.emplace_back(1, static_cast<char>(b));
    for (const char* piece : {"{\"", "\":", "\": ", "\",", ", \"", "\"}", "true", "null", "false", "\\u00",
                              "\xC3\xA9", "\xE6\x97", "\xA5", "12", "-0.", "e+1", "[{", "}]", "  ", "\"\""}) {
      pieces.emplace_back(piece);
    }
    return std::make_shared<const constrain::Vocabulary>(std::move(pieces), std::vector<tether::tokenizer::TokenId>{0});
  }();
  return vocabulary;
}

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "json_schema_fuzz: %s\n", what);
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // The first 16 bytes steer the walk; the rest is the schema.
  const size_t steer = size < 16 ? size : 16;
  const std::string text(reinterpret_cast<const char*>(data) + steer, size - steer);
  boost::system::error_code error;
  const boost::json::value schema = boost::json::parse(text, error);
  if (error) return 0;
  constrain::Grammar grammar;
  try {
    grammar = constrain::json_schema(schema, {.max_whitespace = 1, .max_depth = 3});
  } catch (const tether::Error&) {
    return 0;
  }
  const auto vocabulary = fuzz_vocabulary();
  constrain::GrammarMatcher matcher(std::make_shared<const constrain::GrammarProgram>(grammar), vocabulary);
  std::string output;
  std::vector<uint64_t> mask;
  uint64_t state = 0x9E3779B97F4A7C15ull;
  for (size_t i = 0; i < steer; ++i) state = (state ^ data[i]) * 0x100000001B3ull;
  for (int step = 0; step < 200; ++step) {
    if (matcher.complete()) {
      boost::system::error_code parse_error;
      boost::json::parse(output, parse_error);
      check(!parse_error, "a complete output does not parse as JSON");
    }
    matcher.fill_mask(mask);
    std::vector<tether::tokenizer::TokenId> allowed;
    for (tether::tokenizer::TokenId id = 0; id < vocabulary->n_tokens(); ++id) {
      if ((mask[id / 64] >> (id % 64)) & 1) allowed.push_back(id);
    }
    check(matcher.can_continue() || matcher.complete(), "a state that can neither continue nor end");
    if (allowed.empty()) break;
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    const tether::tokenizer::TokenId token = allowed[(state >> 33) % allowed.size()];
    check(matcher.accept_token(token), "an allowed token was refused");
    if (vocabulary->is_end(token)) break;
    output += vocabulary->piece(token);
  }
  return 0;
}
