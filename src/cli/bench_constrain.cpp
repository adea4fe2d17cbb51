#include "cli/bench_constrain.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <numeric>
#include <span>
#include <string>
#include <vector>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "common/error.h"
#include "constrain/grammar.h"
#include "constrain/grammar_constraint.h"
#include "constrain/grammar_matcher.h"
#include "constrain/grammar_program.h"
#include "constrain/vocabulary.h"
#include "engine/generation/generator.h"
#include "engine/gguf/gguf_file.h"
#include "engine/kernels/thread_pool.h"
#include "engine/model/demo_model.h"
#include "engine/model/llama_model.h"
#include "engine/tokenizer/tokenizer.h"

namespace tether::cli {
namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

double quantile(std::vector<double> values, double q) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const auto index = static_cast<size_t>(q * static_cast<double>(values.size() - 1) + 0.5);
  return values[std::min(index, values.size() - 1)];
}

double mean(const std::vector<double>& values) {
  return values.empty() ? 0 : std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(values.size());
}

// Times apply() of the constraints it makes (one thread: the generator's).
class TimedFactory : public generation::TokenConstraintFactory {
 public:
  TimedFactory(std::shared_ptr<const generation::TokenConstraintFactory> inner, std::vector<double>* samples)
      : inner_(std::move(inner)), samples_(samples) {}

  std::unique_ptr<generation::TokenConstraint> start() const override {
    return std::make_unique<Timed>(inner_->start(), samples_);
  }

 private:
  class Timed : public generation::TokenConstraint {
   public:
    Timed(std::unique_ptr<generation::TokenConstraint> inner, std::vector<double>* samples)
        : inner_(std::move(inner)), samples_(samples) {}
    void apply(std::span<float> logits) override {
      const auto start = Clock::now();
      inner_->apply(logits);
      samples_->push_back(ms_since(start));
    }
    void accept(generation::TokenId token) override { inner_->accept(token); }
    bool complete() const override { return inner_->complete(); }
    bool can_continue() const override { return inner_->can_continue(); }

   private:
    std::unique_ptr<generation::TokenConstraint> inner_;
    std::vector<double>* samples_;
  };

  std::shared_ptr<const generation::TokenConstraintFactory> inner_;
  std::vector<double>* samples_;
};

// Strings are bounded so that a random-weight model finishes its document
// inside the token budget (the string interior is still most of the work).
constexpr const char* kSchema = R"({"type": "object", "properties": {
  "name": {"type": "string", "maxLength": 12}, "age": {"type": "integer"},
  "email": {"type": "string", "maxLength": 12},
  "role": {"enum": ["admin", "user", "guest"]},
  "tags": {"type": "array", "items": {"type": "string", "maxLength": 12}, "maxItems": 4},
  "address": {"type": "object", "properties": {"street": {"type": "string", "maxLength": 12},
              "city": {"type": "string", "maxLength": 12}},
              "required": ["street", "city"], "additionalProperties": false}},
  "required": ["name", "age", "email", "role", "tags", "address"], "additionalProperties": false})";

// Median mask time (ms) of a matcher that has consumed `prefix` under
// `grammar`, with `remaining` tokens of budget (kUnbounded: none).
double state_mask_ms(const constrain::Grammar& grammar, const std::string& prefix,
                     const std::shared_ptr<const constrain::Vocabulary>& vocabulary, size_t* allowed,
                     int32_t remaining = constrain::kUnbounded) {
  constrain::GrammarMatcher matcher(std::make_shared<const constrain::GrammarProgram>(grammar), vocabulary);
  if (!matcher.accept_bytes(prefix)) throw_error(ErrorCode::kInternal, "bench: prefix {} rejected", prefix);
  std::vector<uint64_t> mask;
  std::vector<double> times;
  for (int i = 0; i < 30; ++i) {
    const auto start = Clock::now();
    matcher.fill_mask(mask, remaining);
    times.push_back(ms_since(start));
  }
  *allowed = 0;
  for (const uint64_t word : mask) *allowed += static_cast<size_t>(__builtin_popcountll(word));
  return quantile(times, 0.5);
}

// One document valid under kSchema, with the whitespace JsonOptions allows.
constexpr const char* kDocument =
    R"({"name": "Ada Lovelace", "age": 36, "email": "ada@ex.org", "role": "admin", )"
    R"("tags": ["math", "poetry", "engines"], )"
    R"("address": {"street": "12 Baker St", "city": "London"}})";

struct VocabReport {
  std::string json;
  double mask_mean_ms = 0;
};

// Indexes the vocabulary of `path`, then replays kDocument (tokenized by
// that vocabulary) under kSchema, timing apply() on a full logits row for
// every token, and the masks of chosen states.
VocabReport vocabulary_report(const std::string& path, const boost::json::value& schema) {
  const auto file = std::make_shared<const gguf::GgufFile>(gguf::GgufFile::open(path));
  const tokenizer::Tokenizer tok = tokenizer::Tokenizer::from_gguf(*file);
  const auto start = Clock::now();
  const auto vocabulary = std::make_shared<const constrain::Vocabulary>(tok);
  const double vocabulary_ms = ms_since(start);
  // SentencePiece vocabularies encode a leading space ("▁{"): allowed here
  // so that the document's own tokenization replays.
  const constrain::Grammar grammar =
      constrain::sequence({constrain::optional(constrain::literal(" ")), constrain::json_schema(schema)});
  const auto factory = constrain::compile(grammar, vocabulary);
  const std::vector<tokenizer::TokenId> tokens = tok.encode(kDocument, {.add_special = false});
  // Per token, the least of several passes: the mask's own cost, without
  // the scheduler's interruptions on a shared machine.
  constexpr int kPasses = 5;
  std::vector<double> times(tokens.size(), 1e30);
  std::vector<float> logits(static_cast<size_t>(tok.n_vocab()));
  for (int pass = 0; pass < kPasses; ++pass) {
    const auto constraint = factory->start();
    for (size_t i = 0; i < tokens.size(); ++i) {
      std::fill(logits.begin(), logits.end(), 0.0f);
      const auto t0 = Clock::now();
      constraint->apply(logits);
      times[i] = std::min(times[i], ms_since(t0));
      if (std::isinf(logits[static_cast<size_t>(tokens[i])])) {
        throw_error(ErrorCode::kInternal, "bench: the document's token {} was masked", tokens[i]);
      }
      constraint->accept(tokens[i]);
    }
    if (!constraint->complete()) throw_error(ErrorCode::kInternal, "bench: the document did not complete");
  }
  // Budget-tight masks: the same replay with max_tokens just enough for the
  // document's bytes left (so its tokens stay allowed), which puts most
  // steps in tight mode.
  std::vector<double> tight_min(tokens.size(), 1e30);
  std::vector<uint8_t> was_tight(tokens.size(), 0);
  size_t bytes_left = 0;
  for (const tokenizer::TokenId id : tokens) bytes_left += vocabulary->piece(id).size();
  for (int pass = 0; pass < kPasses; ++pass) {
    const auto constraint = factory->start();
    const auto* grammar_constraint = dynamic_cast<const constrain::GrammarConstraint*>(constraint.get());
    size_t left = bytes_left;
    for (size_t i = 0; i < tokens.size(); ++i) {
      std::fill(logits.begin(), logits.end(), 0.0f);
      constraint->set_remaining(static_cast<int32_t>(left + 1));
      const auto t0 = Clock::now();
      constraint->apply(logits);
      tight_min[i] = std::min(tight_min[i], ms_since(t0));
      was_tight[i] = grammar_constraint != nullptr && grammar_constraint->tight();
      if (std::isinf(logits[static_cast<size_t>(tokens[i])])) {
        throw_error(ErrorCode::kInternal, "bench: the document's token {} was masked in tight mode", tokens[i]);
      }
      constraint->accept(tokens[i]);
      left -= vocabulary->piece(tokens[i]).size();
    }
  }
  std::vector<double> tight_times;
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (was_tight[i]) tight_times.push_back(tight_min[i]);
  }
  if (tight_times.empty()) tight_times.push_back(0);
  size_t string_allowed = 0;
  size_t value_allowed = 0;
  const double string_ms = state_mask_ms(grammar, R"( {"name": ")", vocabulary, &string_allowed);
  const double value_ms = state_mask_ms(constrain::json_value(), "[", vocabulary, &value_allowed);
  // Budgets that bind: 2 tokens left inside a string (only the closing
  // quote and its end token fit), 3 in an array of values.
  size_t string_tight_allowed = 0;
  size_t value_tight_allowed = 0;
  const double string_tight_ms =
      state_mask_ms(constrain::json_string(), "\"ab", vocabulary, &string_tight_allowed, 2);
  const double value_tight_ms = state_mask_ms(constrain::json_value(), "[", vocabulary, &value_tight_allowed, 3);
  VocabReport report;
  report.mask_mean_ms = mean(times);
  report.json = fmt::format(
      "{{\"path\":\"{}\",\"n_vocab\":{},\"plain_string_tokens\":{},\"vocabulary_ms\":{:.1f},"
      "\"document_tokens\":{},\"mask_ms\":{{\"mean\":{:.4f},\"p95\":{:.4f},\"max\":{:.4f}}},"
      "\"tight_steps\":{},\"tight_mask_ms\":{{\"mean\":{:.4f},\"p95\":{:.4f},\"max\":{:.4f}}},"
      "\"state_mask_ms\":{{\"string_interior\":{:.4f},\"string_interior_allowed\":{},"
      "\"json_value_in_array\":{:.4f},\"json_value_allowed\":{},"
      "\"string_interior_tight\":{:.4f},\"string_interior_tight_allowed\":{},"
      "\"json_value_in_array_tight\":{:.4f},\"json_value_tight_allowed\":{}}}}}",
      path, vocabulary->n_tokens(), vocabulary->n_plain(), vocabulary_ms, tokens.size(), mean(times),
      quantile(times, 0.95), quantile(times, 1.0), std::count(was_tight.begin(), was_tight.end(), 1),
      mean(tight_times), quantile(tight_times, 0.95), quantile(tight_times, 1.0), string_ms, string_allowed, value_ms, value_allowed,
      string_tight_ms, string_tight_allowed, value_tight_ms, value_tight_allowed);
  return report;
}

}  // namespace

void run_constrain_bench(const ConstrainBenchOptions& options) {
  if (options.tokens < 2 || options.repeats < 1) {
    throw_error(ErrorCode::kInvalidArgument, "bench constrain: --decode-tokens >= 2 and --repeats >= 1 needed");
  }
  auto file = std::make_shared<const gguf::GgufFile>(
      gguf::GgufFile::open(model::resolve_model_path(options.model_path)));
  const tokenizer::Tokenizer tok = tokenizer::Tokenizer::from_gguf(*file);
  model::LlamaModel model = model::LlamaModel::load(file);
  kernels::ThreadPool pool(options.threads);
  generation::Generator generator(model, tok, pool);

  const auto vocab_start = Clock::now();
  const auto vocabulary = std::make_shared<const constrain::Vocabulary>(tok);
  const double vocabulary_ms = ms_since(vocab_start);

  const boost::json::value schema = boost::json::parse(kSchema);
  const auto compile_start = Clock::now();
  const constrain::Grammar grammar = constrain::json_schema(schema);
  const auto compiled = constrain::compile(grammar, vocabulary);
  const double compile_ms = ms_since(compile_start);
  std::vector<double> mask_ms;
  const auto timed = std::make_shared<const TimedFactory>(compiled, &mask_ms);

  struct Mode {
    int64_t tokens = 0;
    std::vector<double> ms_per_token;  // per sequence
    int valid = 0;
    int stopped = 0;
  };
  Mode plain;
  Mode constrained;
  const auto run = [&](int r, bool with_constraint, int32_t max_tokens, Mode& mode) {
    generation::GenerationRequest request;
    request.prompt = fmt::format("Describe user number {} as a JSON object with name, age and address:", r);
    request.max_tokens = max_tokens;
    request.sampling.temperature = 1.0f;
    request.sampling.seed = options.seed + static_cast<uint64_t>(r);
    request.sampling.ignore_eos = true;
    if (with_constraint) request.constraint = timed;
    const generation::GenerationResult result = generator.generate(std::span(&request, 1)).front();
    // decode_ms spans the first token to the last: tokens - 1 steps.
    const int32_t steps = result.usage.completion_tokens - 1;
    if (steps > 0) {
      mode.tokens += steps;
      mode.ms_per_token.push_back(result.usage.decode_ms / steps);
    }
    mode.stopped += result.finish_reason == generation::FinishReason::kStop;
    boost::system::error_code error;
    boost::json::parse(result.text, error);
    mode.valid += !error;
    return result.usage.completion_tokens;
  };
  Mode warm_up;
  run(0, false, options.tokens, warm_up);  // pages in the weights
  // Alternated, so that load from other processes hits both modes alike;
  // the unconstrained run makes as many tokens as the constrained one
  // (which may end early), so both decode at the same context lengths.
  for (int r = 0; r < options.repeats; ++r) {
    const int32_t made = run(r, true, options.tokens, constrained);
    run(r, false, std::max(made, 2), plain);
  }
  const double plain_ms = quantile(plain.ms_per_token, 0.5);
  const double constrained_ms = quantile(constrained.ms_per_token, 0.5);

  size_t string_allowed = 0;
  size_t object_allowed = 0;
  size_t value_allowed = 0;
  const double string_ms = state_mask_ms(grammar, R"({"name":")", vocabulary, &string_allowed);
  const double object_ms = state_mask_ms(grammar, "", vocabulary, &object_allowed);
  const double value_ms = state_mask_ms(constrain::json_value(), "[", vocabulary, &value_allowed);

  std::string vocab_json;
  if (!options.vocab_path.empty()) {
    const VocabReport report = vocabulary_report(options.vocab_path, schema);
    vocab_json = fmt::format(",\"vocab\":{},\"vocab_ratio\":{:.4f}", report.json,
                             (plain_ms + report.mask_mean_ms) / plain_ms);
  }
  fmt::print(
      "{{\"workload\":\"constrain\",\"model\":\"{}\",\"threads\":{},\"n_vocab\":{},\"plain_string_tokens\":{},"
      "\"vocabulary_ms\":{:.1f},\"compile_ms\":{:.3f},"
      "\"unconstrained\":{{\"tokens\":{},\"ms_per_token\":{:.3f},\"tok_s\":{:.2f}}},"
      "\"constrained\":{{\"tokens\":{},\"ms_per_token\":{:.3f},\"tok_s\":{:.2f},\"stopped\":{},\"valid_json\":{},"
      "\"sequences\":{},\"mask_ms\":{{\"mean\":{:.4f},\"p95\":{:.4f},\"max\":{:.4f}}}}},"
      "\"ratio\":{:.4f},\"mask_share\":{:.4f},"
      "\"state_mask_ms\":{{\"string_interior\":{:.4f},\"string_interior_allowed\":{},\"object_start\":{:.4f},"
      "\"object_start_allowed\":{},\"json_value_in_array\":{:.4f},\"json_value_allowed\":{}}}{}}}\n",
      options.model_path, options.threads, vocabulary->n_tokens(), vocabulary->n_plain(), vocabulary_ms, compile_ms,
      plain.tokens, plain_ms, 1000.0 / plain_ms, constrained.tokens, constrained_ms, 1000.0 / constrained_ms,
      constrained.stopped, constrained.valid, options.repeats, mean(mask_ms), quantile(mask_ms, 0.95),
      quantile(mask_ms, 1.0), constrained_ms / plain_ms, mean(mask_ms) / plain_ms, string_ms, string_allowed,
      object_ms, object_allowed, value_ms, value_allowed, vocab_json);
}

}  // namespace tether::cli
