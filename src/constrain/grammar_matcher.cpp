#include "constrain/grammar_matcher.h"

#include <algorithm>
#include <limits>

namespace tether::constrain {
namespace {

using Kind = GrammarNode::Kind;

// JSON string lexer states (Frame::aux).
constexpr int32_t kOpen = 0;      // before the opening quote
constexpr int32_t kChar = 1;      // between characters
constexpr int32_t kEscape = 2;    // after a backslash
constexpr int32_t kHex0 = 3;      // \u: no hex digit yet
constexpr int32_t kHex1 = 4;      // one hex digit (not d/D)
constexpr int32_t kHex1D = 5;     // one hex digit, d/D: no surrogates
constexpr int32_t kHex2 = 6;
constexpr int32_t kHex3 = 7;
constexpr int32_t kDone = 8;      // closed
constexpr int32_t kUtf8 = 16;     // + remaining * 8 + range of the next byte

// Ranges of a UTF-8 continuation byte (the second byte's depends on the lead).
constexpr uint8_t kRangeLo[] = {0x80, 0xA0, 0x80, 0x90, 0x80};
constexpr uint8_t kRangeHi[] = {0xBF, 0xBF, 0x9F, 0xBF, 0x8F};

// Tight mode starts this many tokens (plus the grammar's largest entry)
// before the budget binds, so that one token cannot overshoot it.
constexpr int64_t kTightSlack = 8;

bool is_hex(uint8_t b) { return (b >= '0' && b <= '9') || (b >= 'a' && b <= 'f') || (b >= 'A' && b <= 'F'); }

// A string frame may start another character.
bool room(const GrammarProgram::Node& node, const GrammarMatcher::Frame& frame) {
  return node.max < 0 || frame.pos < node.max;
}

}  // namespace

void GrammarMatcher::StackSet::assign(const StackSet& other) {
  if (stacks.size() < other.size) stacks.resize(other.size);
  for (size_t i = 0; i < other.size; ++i) stacks[i] = other.stacks[i];
  size = other.size;
  complete = other.complete;
}

GrammarMatcher::GrammarMatcher(std::shared_ptr<const GrammarProgram> program,
                               std::shared_ptr<const Vocabulary> vocabulary)
    : program_(std::move(program)), vocabulary_(std::move(vocabulary)) {
  state_.stacks.resize(1);
  state_.stacks[0].push_back({program_->root(), 0, 0});
  state_.size = 1;
  settle(state_, 0);
  finish_step(state_);
  levels_.resize(vocabulary_->trie().depth() + 2);
}

bool GrammarMatcher::consume(Frame& frame, uint8_t b, bool& finished) const {
  const GrammarProgram::Node& node = program_->node(frame.node);
  finished = false;
  switch (node.kind) {
    case Kind::kLiteral:
      if (program_->literal_byte(node, frame.pos) != b) return false;
      finished = ++frame.pos == static_cast<int32_t>(node.count);
      return true;
    case Kind::kByteClass:
      if (!program_->in_class(node, b)) return false;
      frame.pos = 1;
      finished = true;
      return true;
    case Kind::kJsonString:
      break;
    default:
      return false;  // not a terminal: never on top of a settled stack
  }
  int32_t& state = frame.aux;
  switch (state) {
    case kOpen:
      if (b != '"') return false;
      state = kChar;
      return true;
    case kChar:
      if (b == '"') {
        if (frame.pos < node.min) return false;
        state = kDone;
        finished = true;
        return true;
      }
      if (!room(node, frame)) return false;
      if (b == '\\') {
        state = kEscape;
      } else if (b < 0x80) {
        if (b < 0x20) return false;
      } else if (b >= 0xC2 && b <= 0xDF) {
        state = kUtf8 + 1 * 8 + 0;
      } else if (b >= 0xE0 && b <= 0xEF) {
        state = kUtf8 + 2 * 8 + (b == 0xE0 ? 1 : b == 0xED ? 2 : 0);
      } else if (b >= 0xF0 && b <= 0xF4) {
        state = kUtf8 + 3 * 8 + (b == 0xF0 ? 3 : b == 0xF4 ? 4 : 0);
      } else {
        return false;
      }
      // Unbounded strings count only up to minLength (canonical states).
      if (node.max >= 0 || frame.pos < node.min) ++frame.pos;
      return true;
    case kEscape:
      if (b == 'u') {
        state = kHex0;
        return true;
      }
      if (b != '"' && b != '\\' && b != '/' && b != 'b' && b != 'f' && b != 'n' && b != 'r' && b != 't') {
        return false;
      }
      state = kChar;
      return true;
    case kHex0:
      if (!is_hex(b)) return false;
      state = (b == 'd' || b == 'D') ? kHex1D : kHex1;
      return true;
    case kHex1D:
      if (b < '0' || b > '7') return false;  // no surrogate halves
      state = kHex2;
      return true;
    case kHex1:
    case kHex2:
      if (!is_hex(b)) return false;
      state = state == kHex1 ? kHex2 : kHex3;
      return true;
    case kHex3:
      if (!is_hex(b)) return false;
      state = kChar;
      return true;
    default:
      break;
  }
  if (state >= kUtf8) {
    const int32_t remaining = (state - kUtf8) / 8;
    const int32_t range = (state - kUtf8) % 8;
    if (b < kRangeLo[range] || b > kRangeHi[range]) return false;
    state = remaining == 1 ? kChar : kUtf8 + (remaining - 1) * 8;
    return true;
  }
  return false;
}

// Expands stack `index` until a terminal waiting for a byte is on top (or
// the stack is empty: a full match). Alternatives become new stacks, each
// settled in turn. Indices stay valid: nothing is removed here.
void GrammarMatcher::settle(StackSet& set, size_t index) const {
  const auto spawn = [&](size_t from) -> size_t {
    if (set.size >= kMaxStacks) return SIZE_MAX;
    if (set.stacks.size() <= set.size) set.stacks.resize(set.size + 1);
    set.stacks[set.size] = set.stacks[from];
    return set.size++;
  };
  while (true) {
    Stack& stack = set.stacks[index];
    if (stack.empty()) {
      set.complete = true;
      return;
    }
    Frame& frame = stack.back();
    const GrammarProgram::Node& node = program_->node(frame.node);
    switch (node.kind) {
      case Kind::kLiteral:
        if (frame.pos < static_cast<int32_t>(node.count)) return;
        stack.pop_back();
        break;
      case Kind::kByteClass:
        if (frame.pos == 0) return;
        stack.pop_back();
        break;
      case Kind::kJsonString:
        if (frame.aux != kDone) return;
        stack.pop_back();
        break;
      case Kind::kSequence:
        if (frame.pos + 1 < static_cast<int32_t>(node.count)) {
          const uint32_t child = program_->child(node, static_cast<uint32_t>(frame.pos++));
          stack.push_back({child, 0, 0});
        } else if (frame.pos + 1 == static_cast<int32_t>(node.count)) {
          // The last part in tail position: it takes the sequence's place,
          // so chains of sequences do not deepen the stack.
          frame = {program_->child(node, static_cast<uint32_t>(frame.pos)), 0, 0};
        } else {
          stack.pop_back();
        }
        break;
      case Kind::kChoice: {
        // The chosen alternative takes the choice's place.
        const uint32_t first = program_->child(node, 0);
        for (uint32_t i = 1; i < node.count; ++i) {
          const size_t other = spawn(index);
          if (other == SIZE_MAX) break;
          set.stacks[other].back() = {program_->child(node, i), 0, 0};
          settle(set, other);
        }
        set.stacks[index].back() = {first, 0, 0};
        break;
      }
      case Kind::kRepeat: {
        const int32_t count = frame.pos;
        const bool more = node.max < 0 || count < node.max;
        const bool stop = count >= node.min;
        const uint32_t item = program_->child(node, 0);
        if (more && stop) {
          const size_t other = spawn(index);
          if (other != SIZE_MAX) {
            set.stacks[other].pop_back();
            settle(set, other);
          }
        }
        Stack& again = set.stacks[index];
        if (more) {
          // Unbounded: counts past min behave alike, so they are one state
          // (fewer distinct stacks to keep apart).
          again.back().pos = node.max < 0 ? std::min(count + 1, node.min) : count + 1;
          again.push_back({item, 0, 0});
        } else {
          again.pop_back();
        }
        break;
      }
    }
  }
}

// Drops the empty stacks (their match was recorded in `complete`) and
// duplicates.
void GrammarMatcher::finish_step(StackSet& set) const {
  size_t kept = 0;
  for (size_t i = 0; i < set.size; ++i) {
    if (set.stacks[i].empty()) continue;
    if (kept != i) std::swap(set.stacks[kept], set.stacks[i]);
    ++kept;
  }
  set.size = kept;
  if (set.size > 1) {
    std::sort(set.stacks.begin(), set.stacks.begin() + static_cast<std::ptrdiff_t>(set.size));
    const auto end = std::unique(set.stacks.begin(), set.stacks.begin() + static_cast<std::ptrdiff_t>(set.size));
    set.size = static_cast<size_t>(end - set.stacks.begin());
  }
}

bool GrammarMatcher::step(const StackSet& in, uint8_t byte, StackSet& out) const {
  out.clear();
  for (size_t i = 0; i < in.size; ++i) {
    const Frame& top = in.stacks[i].back();
    Frame next = top;
    bool finished = false;
    if (!consume(next, byte, finished)) continue;
    if (out.stacks.size() <= out.size) out.stacks.resize(out.size + 1);
    Stack& stack = out.stacks[out.size];
    stack = in.stacks[i];
    stack.back() = next;
    const size_t index = out.size++;
    if (finished) settle(out, index);
  }
  finish_step(out);
  return out.size > 0 || out.complete;
}

bool GrammarMatcher::accept_bytes(std::string_view bytes) {
  scratch_.assign(state_);
  StackSet next;
  for (const char c : bytes) {
    if (!step(scratch_, static_cast<uint8_t>(c), next)) return false;
    std::swap(scratch_, next);
  }
  std::swap(state_, scratch_);
  return true;
}

bool GrammarMatcher::accept_token(TokenId token) {
  if (token < 0 || token >= vocabulary_->n_tokens()) return false;
  if (vocabulary_->is_end(token)) {
    if (!state_.complete) return false;
    state_.size = 0;  // nothing may follow an end token
    return true;
  }
  const std::string& piece = vocabulary_->piece(token);
  if (piece.empty() || piece.size() > Vocabulary::kMaxTokenBytes) return false;
  return accept_bytes(piece);
}

int32_t GrammarMatcher::stack_distance(const Stack& stack) const {
  constexpr int64_t kFar = GrammarProgram::kFar;
  int64_t total = 0;
  for (size_t i = 0; i < stack.size(); ++i) {
    const Frame& frame = stack[i];
    const GrammarProgram::Node& node = program_->node(frame.node);
    int64_t bytes = 0;
    switch (node.kind) {
      case Kind::kLiteral:
        bytes = static_cast<int32_t>(node.count) - frame.pos;
        break;
      case Kind::kByteClass:
        bytes = frame.pos == 0 ? 1 : 0;
        break;
      case Kind::kJsonString: {
        // Characters still owed to minLength (one byte each), the closing
        // quote, and whatever finishes the character under way.
        const int64_t owed = std::max(0, node.min - frame.pos);
        const int32_t state = frame.aux;
        if (state == kOpen) {
          bytes = 2 + node.min;
        } else if (state == kDone) {
          bytes = 0;
        } else if (state == kChar) {
          bytes = owed + 1;
        } else if (state == kEscape) {
          bytes = owed + 2;
        } else if (state >= kHex0 && state <= kHex3) {
          const int32_t digits = state == kHex0 ? 4 : (state == kHex1 || state == kHex1D) ? 3 : state == kHex2 ? 2 : 1;
          bytes = owed + digits + 1;
        } else if (state >= kUtf8) {
          bytes = owed + (state - kUtf8) / 8 + 1;
        }
        break;
      }
      case Kind::kSequence:
        // Parts before `pos` are done or under way (higher on the stack).
        for (uint32_t c = static_cast<uint32_t>(std::max(frame.pos, 0)); c < node.count; ++c) {
          bytes += program_->min_bytes(program_->child(node, c));
        }
        break;
      case Kind::kRepeat:
        bytes = static_cast<int64_t>(std::max(0, node.min - frame.pos)) * program_->min_bytes(program_->child(node, 0));
        break;
      case Kind::kChoice:
        bytes = program_->min_bytes(frame.node);
        break;
    }
    total = std::min(total + bytes, kFar);
  }
  return static_cast<int32_t>(total);
}

int32_t GrammarMatcher::set_distance(const StackSet& set) const {
  if (set.complete) return 0;
  int32_t best = GrammarProgram::kFar;
  for (size_t i = 0; i < set.size; ++i) best = std::min(best, stack_distance(set.stacks[i]));
  return best;
}

int32_t GrammarMatcher::set_cost(const StackSet& set) const {
  if (set.complete && set.size == 0) return 0;
  const int32_t bytes = set_distance(set);
  return bytes >= GrammarProgram::kFar ? bytes : bytes + 1;
}

int32_t GrammarMatcher::distance() const { return set_distance(state_); }

// Tight mode inside a string: a plain token of c characters takes a stack
// from distance d to d - min(c, owed) (owed: characters minLength still
// asks for), and fits where room remains for c characters. So each stack
// allows the plain tokens of a range of lengths.
void GrammarMatcher::add_plain_tight(const StackSet& set, std::vector<uint64_t>& mask) const {
  const Vocabulary& vocabulary = *vocabulary_;
  for (size_t i = 0; i < set.size; ++i) {
    const Frame& top = set.stacks[i].back();
    const GrammarProgram::Node& node = program_->node(top.node);
    const int32_t owed = std::max(0, node.min - top.pos);
    const int32_t room_left = node.max < 0 ? Vocabulary::kMaxPlainChars : node.max - top.pos;
    // The cost after the token (distance + end token) must be <= budget_.
    const int32_t need = stack_distance(set.stacks[i]) + 1 - budget_;  // chars that must count
    if (need > owed) continue;
    const int32_t lo = std::max(1, need);
    if (lo > room_left) continue;
    const std::vector<uint64_t>& upto_hi = vocabulary.plain_upto(room_left);
    const std::vector<uint64_t>& below_lo = vocabulary.plain_upto(lo - 1);
    for (size_t w = 0; w < mask.size(); ++w) mask[w] |= upto_hi[w] & ~below_lo[w];
  }
}

void GrammarMatcher::walk(const TokenTrie& trie, uint32_t node_index, size_t depth, uint64_t* mask) {
  const TokenTrie::Node& node = trie.node(node_index);
  const TokenTrie::Edge* edges = trie.edges(node);
  for (uint32_t e = 0; e < node.n_edges; ++e) {
    StackSet& next = levels_[depth + 1];
    if (!step(levels_[depth], edges[e].byte, next)) continue;
    const TokenTrie::Node& child = trie.node(edges[e].child);
    const TokenId* tokens = trie.tokens(child);
    // Tight: tokens ending here must leave room to finish (their longer
    // siblings below may still, so the walk goes on either way).
    const bool fits = !tight_ || child.n_tokens == 0 || set_cost(next) <= budget_;
    for (uint32_t t = 0; fits && t < child.n_tokens; ++t) {
      mask[tokens[t] / 64] |= uint64_t{1} << (tokens[t] % 64);
    }
    if (next.size > 0 && child.n_edges > 0) walk(trie, edges[e].child, depth + 1, mask);
  }
}

void GrammarMatcher::fill_mask(std::vector<uint64_t>& mask, int32_t remaining_tokens) {
  const Vocabulary& vocabulary = *vocabulary_;
  mask.assign(vocabulary.mask_words(), 0);
  if (state_.complete) {
    for (const TokenId id : vocabulary.end_tokens()) mask[id / 64] |= uint64_t{1} << (id % 64);
  }
  tight_ = false;
  if (state_.size == 0) return;
  if (remaining_tokens >= 0) {
    // One token may push the end of the shortest match away by about the
    // largest thing it can enter (a new array item, an alternative); past
    // that margin the budget cannot bind yet and the mask is the usual one.
    const int64_t margin = kTightSlack + 2 * static_cast<int64_t>(program_->max_entry());
    const int32_t cost = set_cost(state_);
    if (remaining_tokens <= cost + margin) {
      tight_ = true;
      budget_ = remaining_tokens - 1;  // this token takes one
    }
  }
  // Inside a JSON string on every path: plain tokens by bitmap, the rest by
  // walking the (smaller) trie of the others.
  StackSet& start = levels_[0];
  start.assign(state_);
  if (tight_ && start.size > 1) {
    // Keep the stacks nearest to a full match when some must be dropped.
    std::stable_sort(start.stacks.begin(), start.stacks.begin() + static_cast<std::ptrdiff_t>(start.size),
                     [&](const Stack& a, const Stack& b) { return stack_distance(a) < stack_distance(b); });
  }
  bool in_string = true;
  int32_t room_left = 0;
  for (size_t i = 0; i < std::min(start.size, kMaxStringMaskStacks) && in_string; ++i) {
    const Frame& top = start.stacks[i].back();
    const GrammarProgram::Node& node = program_->node(top.node);
    in_string = node.kind == Kind::kJsonString && top.aux == kChar;
    if (in_string) {
      const int32_t left = node.max < 0 ? std::numeric_limits<int32_t>::max() : node.max - top.pos;
      room_left = std::max(room_left, left);
    }
  }
  // The walk costs its trie nodes times the stacks: past a few stacks,
  // only the first ones are walked (allowing fewer tokens, never a wrong
  // one: every stack is a way to a full match).
  levels_[0].size = std::min(levels_[0].size, in_string ? kMaxStringMaskStacks : kMaxMaskStacks);
  if (in_string && tight_) {
    add_plain_tight(levels_[0], mask);
    walk(vocabulary.non_plain_trie(), 0, 0, mask.data());
  } else if (in_string) {
    const std::vector<uint64_t>& plain = vocabulary.plain_upto(room_left);
    for (size_t w = 0; w < mask.size(); ++w) mask[w] |= plain[w];
    walk(vocabulary.non_plain_trie(), 0, 0, mask.data());
  } else {
    walk(vocabulary.trie(), 0, 0, mask.data());
  }
  if (tight_ && std::all_of(mask.begin(), mask.end(), [](uint64_t word) { return word == 0; })) {
    // Past saving: max_tokens is below the shortest completion (in tokens
    // of this vocabulary). The usual mask, for max_tokens to cut.
    fill_mask(mask, kUnbounded);
  }
}

}  // namespace tether::constrain
