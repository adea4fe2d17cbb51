#pragma once

#include <string>

#include "engine/tokenizer/token_id.h"

namespace tether::tokenizer {

class Tokenizer;

// Turns a stream of token ids into text one id at a time, emitting only
// complete UTF-8 characters: bytes of a character split across tokens (byte
// fallback, byte-level BPE) are held until it completes. Bytes that can
// never form a character are emitted as U+FFFD, so every emitted string is
// valid UTF-8 (safe for SSE and JSON).
class IncrementalDetokenizer {
 public:
  // `tokenizer` must outlive this detokenizer.
  explicit IncrementalDetokenizer(const Tokenizer& tokenizer, bool render_special = false)
      : tokenizer_(&tokenizer), render_special_(render_special) {}

  // The text completed by `id` (often empty while a character is pending).
  // Throws Error for an id outside the vocabulary.
  std::string push(TokenId id);

  // Whatever is still held, as U+FFFD for an unfinished character; resets.
  std::string flush();

  // Bytes currently held back (at most 3).
  size_t pending_bytes() const { return pending_.size(); }

 private:
  const Tokenizer* tokenizer_;
  bool render_special_;
  std::string pending_;
};

}  // namespace tether::tokenizer
