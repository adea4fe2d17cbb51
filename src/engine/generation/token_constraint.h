#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "engine/tokenizer/token_id.h"

namespace tether::generation {

using tokenizer::TokenId;

// Restricts which tokens a sequence may sample next (grammar-constrained
// decoding). One per sequence; not thread-safe. The engine calls apply()
// on a copy of each logits row before sampling and accept() with the token
// it sampled.
class TokenConstraint {
 public:
  virtual ~TokenConstraint() = default;

  // Sets the logit of every token not allowed now to -infinity. End tokens
  // (EOS/EOT) are allowed only where the output so far is complete.
  virtual void apply(std::span<float> logits) = 0;

  // How many tokens the sequence may still take, the next one included
  // (max_tokens less those made); the engine says it before each apply().
  // A constraint may then narrow its mask so that the output still
  // completes (and its end token fits) within that budget. Negative: no
  // limit (the default).
  virtual void set_remaining(int32_t remaining_tokens) { (void)remaining_tokens; }

  // Advances past `token`; throws Error if it was not allowed.
  virtual void accept(TokenId token) = 0;

  // The output so far is a full match: the sequence may stop here.
  virtual bool complete() const = 0;

  // Some further token is allowed (false: the sequence must stop now).
  virtual bool can_continue() const = 0;
};

// Makes a fresh constraint per sequence; shared by requests, so start()
// must be safe to call from many threads.
class TokenConstraintFactory {
 public:
  virtual ~TokenConstraintFactory() = default;
  virtual std::unique_ptr<TokenConstraint> start() const = 0;
};

}  // namespace tether::generation
