#pragma once

#include <memory>
#include <span>
#include <vector>

#include "constrain/grammar_matcher.h"
#include "engine/generation/token_constraint.h"

namespace tether::constrain {

// The TokenConstraint of one sequence under a compiled grammar.
//
// Dead end: should no token of the vocabulary continue the output (a grammar
// needing text the vocabulary cannot spell), apply() leaves only the end
// tokens (or, lacking any, every token) and the next accept() ends the
// constraint: can_continue() turns false and the sequence stops.
class GrammarConstraint : public generation::TokenConstraint {
 public:
  GrammarConstraint(std::shared_ptr<const GrammarProgram> program, std::shared_ptr<const Vocabulary> vocabulary);

  void apply(std::span<float> logits) override;
  void set_remaining(int32_t remaining_tokens) override;
  void accept(TokenId token) override;
  bool complete() const override { return matcher_.complete(); }
  bool can_continue() const override { return !dead_end_ && matcher_.can_continue(); }

  // The allowed-token bitmap of the current state and budget (as apply()
  // uses it).
  const std::vector<uint64_t>& mask();
  // Whether the last mask was narrowed by the token budget.
  bool tight() const { return matcher_.tight(); }
  const GrammarMatcher& matcher() const { return matcher_; }

 private:
  GrammarMatcher matcher_;
  std::vector<uint64_t> mask_;
  bool mask_valid_ = false;
  int32_t remaining_ = kUnbounded;  // as set_remaining() said
  bool stuck_ = false;     // the last mask allowed nothing
  bool dead_end_ = false;  // a token was accepted while stuck
};

// A grammar compiled for one vocabulary.
class CompiledGrammar : public generation::TokenConstraintFactory {
 public:
  CompiledGrammar(const Grammar& grammar, std::shared_ptr<const Vocabulary> vocabulary);
  std::unique_ptr<generation::TokenConstraint> start() const override;

 private:
  std::shared_ptr<const GrammarProgram> program_;
  std::shared_ptr<const Vocabulary> vocabulary_;
};

}  // namespace tether::constrain
