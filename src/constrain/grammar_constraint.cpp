#include "constrain/grammar_constraint.h"

#include <limits>

#include "common/error.h"

namespace tether::constrain {

GrammarConstraint::GrammarConstraint(std::shared_ptr<const GrammarProgram> program,
                                     std::shared_ptr<const Vocabulary> vocabulary)
    : matcher_(std::move(program), std::move(vocabulary)) {}

const std::vector<uint64_t>& GrammarConstraint::mask() {
  if (!mask_valid_) {
    matcher_.fill_mask(mask_, remaining_);
    mask_valid_ = true;
    stuck_ = true;
    for (const uint64_t word : mask_) stuck_ = stuck_ && word == 0;
  }
  return mask_;
}

void GrammarConstraint::set_remaining(int32_t remaining_tokens) {
  const int32_t remaining = remaining_tokens < 0 ? kUnbounded : remaining_tokens;
  if (remaining != remaining_) {
    remaining_ = remaining;
    mask_valid_ = false;
  }
}

void GrammarConstraint::apply(std::span<float> logits) {
  constexpr float kNegInf = -std::numeric_limits<float>::infinity();
  const std::vector<uint64_t>& allowed = mask();
  const Vocabulary& vocabulary = matcher_.vocabulary();
  if (stuck_) {
    if (vocabulary.end_tokens().empty()) return;
    for (float& logit : logits) logit = kNegInf;
    for (const TokenId id : vocabulary.end_tokens()) {
      if (static_cast<size_t>(id) < logits.size()) logits[static_cast<size_t>(id)] = 0.0f;
    }
    return;
  }
  const size_t n = logits.size();
  const size_t n_vocab = static_cast<size_t>(vocabulary.n_tokens());
  for (size_t w = 0; w * 64 < n; ++w) {
    const uint64_t word = w < allowed.size() ? allowed[w] : 0;
    if (word == ~uint64_t{0} && (w + 1) * 64 <= n_vocab) continue;
    const size_t end = std::min(n, (w + 1) * 64);
    for (size_t i = w * 64; i < end; ++i) {
      if (i >= n_vocab || ((word >> (i % 64)) & 1) == 0) logits[i] = kNegInf;
    }
  }
}

void GrammarConstraint::accept(TokenId token) {
  if (dead_end_) return;
  if (mask_valid_ && stuck_) {
    dead_end_ = true;
    return;
  }
  if (!matcher_.accept_token(token)) {
    throw_error(ErrorCode::kInvalidArgument, "constrained decoding: token {} is not allowed here", token);
  }
  mask_valid_ = false;
}

CompiledGrammar::CompiledGrammar(const Grammar& grammar, std::shared_ptr<const Vocabulary> vocabulary)
    : program_(std::make_shared<const GrammarProgram>(grammar)), vocabulary_(std::move(vocabulary)) {
  if (!vocabulary_) throw_error(ErrorCode::kInvalidArgument, "grammar: compiled without a vocabulary");
}

std::unique_ptr<generation::TokenConstraint> CompiledGrammar::start() const {
  return std::make_unique<GrammarConstraint>(program_, vocabulary_);
}

std::shared_ptr<const generation::TokenConstraintFactory> compile(const Grammar& grammar,
                                                                  std::shared_ptr<const Vocabulary> vocabulary) {
  return std::make_shared<const CompiledGrammar>(grammar, std::move(vocabulary));
}

}  // namespace tether::constrain
