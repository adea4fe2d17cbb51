#pragma once

#include <compare>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "constrain/grammar_program.h"
#include "constrain/vocabulary.h"

namespace tether::constrain {

// Where a match stands: every way the output so far can continue, each a
// stack of grammar positions (innermost last) whose top is a terminal
// (literal, byte class, JSON string) waiting for its next byte, plus whether
// the output so far is already a full match.
class GrammarMatcher {
 public:
  struct Frame {
    uint32_t node = 0;
    int32_t pos = 0;  // literal offset, child index, repeat count, string chars
    int32_t aux = 0;  // JSON string lexer state
    auto operator<=>(const Frame&) const = default;
  };
  using Stack = std::vector<Frame>;

  // A set of stacks whose storage is reused from one step to the next.
  struct StackSet {
    std::vector<Stack> stacks;
    size_t size = 0;
    bool complete = false;
    void clear() {
      size = 0;
      complete = false;
    }
    void assign(const StackSet& other);
  };

  // At most this many alternative stacks are kept (highly ambiguous
  // grammars); dropping some only narrows what may follow, every kept stack
  // still leads to a full match.
  static constexpr size_t kMaxStacks = 256;
  // Stacks a mask walks: inside a string every stack goes deep into the
  // trie, elsewhere most die within a byte or two.
  static constexpr size_t kMaxMaskStacks = 128;
  static constexpr size_t kMaxStringMaskStacks = 16;

  GrammarMatcher(std::shared_ptr<const GrammarProgram> program, std::shared_ptr<const Vocabulary> vocabulary);

  // Bitmap (64 tokens a word, Vocabulary::mask_words() words) of the
  // tokens allowed now: those whose text keeps the output a prefix of a
  // match, and the end tokens where it is complete.
  void fill_mask(std::vector<uint64_t>& mask);

  // Advances by a token / raw bytes; false (state unchanged) if not allowed.
  bool accept_token(TokenId token);
  bool accept_bytes(std::string_view bytes);

  bool complete() const { return state_.complete; }
  bool can_continue() const { return state_.size > 0; }
  const Vocabulary& vocabulary() const { return *vocabulary_; }

 private:
  bool step(const StackSet& in, uint8_t byte, StackSet& out) const;
  void settle(StackSet& set, size_t index) const;
  bool consume(Frame& frame, uint8_t byte, bool& finished) const;
  void walk(const TokenTrie& trie, uint32_t node, size_t depth, uint64_t* mask);
  void finish_step(StackSet& set) const;

  std::shared_ptr<const GrammarProgram> program_;
  std::shared_ptr<const Vocabulary> vocabulary_;
  StackSet state_;
  StackSet scratch_;
  std::vector<StackSet> levels_;  // walk state per trie depth
};

}  // namespace tether::constrain
