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
  //
  // `remaining_tokens` (kUnbounded: no limit) is how many tokens the
  // sequence may still take, this one included. When that gets close to
  // what the shortest completion needs, the mask keeps only the tokens after
  // which a full match and its end token still fit (budget-tight mode), so
  // that a constrained output finishes before max_tokens rather than being
  // cut. Shortest completions are counted in bytes, each spelled by a
  // one-byte token; a vocabulary without those (rare: byte-level BPE and
  // SentencePiece byte fallback have them all) may still run out.
  void fill_mask(std::vector<uint64_t>& mask, int32_t remaining_tokens = kUnbounded);

  // The fewest bytes that turn the output so far into a full match (0: it
  // is one; GrammarProgram::kFar: none can).
  int32_t distance() const;
  // Whether the last fill_mask() was budget-tight.
  bool tight() const { return tight_; }

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
  int32_t stack_distance(const Stack& stack) const;
  int32_t set_distance(const StackSet& set) const;
  // Tokens still needed after reaching `set`: its distance plus the end
  // token (none when nothing may follow).
  int32_t set_cost(const StackSet& set) const;
  void add_plain_tight(const StackSet& set, std::vector<uint64_t>& mask) const;

  std::shared_ptr<const GrammarProgram> program_;
  std::shared_ptr<const Vocabulary> vocabulary_;
  StackSet state_;
  StackSet scratch_;
  std::vector<StackSet> levels_;  // walk state per trie depth
  bool tight_ = false;
  int32_t budget_ = 0;  // tight: the largest set_cost() a token may leave
};

}  // namespace tether::constrain
