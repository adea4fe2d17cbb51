// SequenceOutput under a TokenConstraint: masked sampling, the constraint
// advanced per token, and how a constrained sequence ends.
#include <limits>
#include <memory>
#include <span>
#include <vector>

#include <gtest/gtest.h>

#include "common/error.h"
#include "engine/generation/sequence_output.h"
#include "engine/generation/token_constraint.h"
#include "sched/engine_test_support.h"

namespace tether::generation {
namespace {

// Allows exactly `script` in order, then (when `end_after`) only the end
// token; complete once the script is done. Records what it saw.
class ScriptConstraint : public TokenConstraint {
 public:
  ScriptConstraint(std::vector<TokenId> script, TokenId end, bool end_after, int* applies,
                   std::vector<int32_t>* remaining)
      : script_(std::move(script)), end_(end), end_after_(end_after), applies_(applies), remaining_(remaining) {}

  void apply(std::span<float> logits) override {
    ++*applies_;
    for (size_t i = 0; i < logits.size(); ++i) {
      const bool allowed = (next_ < script_.size() && static_cast<TokenId>(i) == script_[next_]) ||
                           (complete() && end_after_ && static_cast<TokenId>(i) == end_);
      if (!allowed) logits[i] = -std::numeric_limits<float>::infinity();
    }
  }
  void accept(TokenId token) override {
    if (next_ < script_.size() && token == script_[next_]) {
      ++next_;
    } else if (complete() && end_after_ && token == end_) {
      ended_ = true;
    } else {
      throw_error(ErrorCode::kInvalidArgument, "token {} not allowed", token);
    }
  }
  bool complete() const override { return next_ == script_.size(); }
  bool can_continue() const override { return !ended_ && (next_ < script_.size() || end_after_); }
  void set_remaining(int32_t remaining_tokens) override { remaining_->push_back(remaining_tokens); }

 private:
  std::vector<TokenId> script_;
  TokenId end_;
  bool end_after_;
  int* applies_;
  std::vector<int32_t>* remaining_;
  size_t next_ = 0;
  bool ended_ = false;
};

class ScriptFactory : public TokenConstraintFactory {
 public:
  ScriptFactory(std::vector<TokenId> script, TokenId end, bool end_after)
      : script_(std::move(script)), end_(end), end_after_(end_after) {}
  std::unique_ptr<TokenConstraint> start() const override {
    return std::make_unique<ScriptConstraint>(script_, end_, end_after_, &applies, &remaining);
  }
  mutable int applies = 0;
  mutable std::vector<int32_t> remaining;  // what set_remaining() was told, in order

 private:
  std::vector<TokenId> script_;
  TokenId end_;
  bool end_after_;
};

class SequenceOutputConstraintTest : public ::testing::Test {
 protected:
  const tokenizer::Tokenizer& tok() const { return *sched::testing::tiny_tokenizer(); }

  // Runs a SequenceOutput on flat logits (every token equally likely).
  GenerationResult run(const GenerationRequest& request) {
    const std::vector<TokenId> prompt = {10, 11};
    SequenceOutput output(request, prompt, request.max_tokens, tok().n_vocab(), tok());
    const std::vector<float> logits(static_cast<size_t>(tok().n_vocab()), 0.0f);
    for (int i = 0; i < 1000 && !output.finished(); ++i) output.accept(output.sample(logits));
    return output.result();
  }

  GenerationRequest request(std::shared_ptr<const TokenConstraintFactory> constraint, int32_t max_tokens) {
    GenerationRequest r;
    r.max_tokens = max_tokens;
    r.sampling.temperature = 1.0f;
    r.sampling.seed = 7;
    r.constraint = std::move(constraint);
    return r;
  }
};

TEST_F(SequenceOutputConstraintTest, SamplesOnlyAllowedTokensAndStopsWhenDone) {
  const std::vector<TokenId> script = {40, 41, 42, 43};
  auto factory = std::make_shared<ScriptFactory>(script, tok().eos_id(), false);
  const GenerationResult result = run(request(factory, 50));
  EXPECT_EQ(result.tokens, script);
  EXPECT_EQ(result.finish_reason, FinishReason::kStop);
  EXPECT_EQ(result.text, tok().decode(script));
  EXPECT_EQ(factory->applies, 4);
}

TEST_F(SequenceOutputConstraintTest, AnEndTokenWhereCompleteStops) {
  const std::vector<TokenId> script = {40, 41};
  auto factory = std::make_shared<ScriptFactory>(script, tok().eos_id(), true);
  GenerationRequest r = request(factory, 50);
  r.sampling.ignore_eos = true;  // a constraint's end still ends it
  const GenerationResult result = run(r);
  EXPECT_EQ(result.tokens, (std::vector<TokenId>{40, 41, tok().eos_id()}));
  EXPECT_EQ(result.finish_reason, FinishReason::kStop);
  EXPECT_EQ(result.text, tok().decode(script));
}

TEST_F(SequenceOutputConstraintTest, TheConstraintLearnsTheTokensLeftBeforeEachMask) {
  const std::vector<TokenId> script = {40, 41, 42};
  auto factory = std::make_shared<ScriptFactory>(script, tok().eos_id(), true);
  const GenerationResult result = run(request(factory, 10));
  EXPECT_EQ(result.tokens.size(), 4u);
  EXPECT_EQ(factory->remaining, (std::vector<int32_t>{10, 9, 8, 7}));
}

TEST_F(SequenceOutputConstraintTest, MaxTokensStillEndsWithLength) {
  auto factory = std::make_shared<ScriptFactory>(std::vector<TokenId>{40, 41, 42, 43}, tok().eos_id(), false);
  const GenerationResult result = run(request(factory, 2));
  EXPECT_EQ(result.tokens, (std::vector<TokenId>{40, 41}));
  EXPECT_EQ(result.finish_reason, FinishReason::kLength);
}

TEST_F(SequenceOutputConstraintTest, UnconstrainedSamplingIsUnchanged) {
  GenerationRequest r = request(nullptr, 20);
  r.sampling.ignore_eos = true;
  const GenerationResult a = run(r);
  const GenerationResult b = run(r);
  EXPECT_EQ(a.tokens.size(), 20u);
  EXPECT_EQ(a.tokens, b.tokens);
  EXPECT_EQ(a.finish_reason, FinishReason::kLength);
}

}  // namespace
}  // namespace tether::generation
