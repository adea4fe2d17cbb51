#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/tokenizer/token_id.h"

namespace tether::tokenizer {

// Text → token id lookups, the innermost operation of SentencePiece merging:
// an open-addressing table (linear probing, at most half full) of ids with a
// hash tag each, so a miss rarely touches the token text at all.
class TokenTextIndex {
 public:
  // Indexes every non-empty text; on duplicates the last id wins.
  // `texts` must outlive the index and not change.
  explicit TokenTextIndex(const std::vector<std::string>* texts = nullptr);

  TokenId find(std::string_view text) const;

 private:
  struct Slot {
    uint32_t tag;  // high hash bits, to skip most non-matching texts
    TokenId id;    // kNoToken: empty
  };
  static uint64_t hash(std::string_view text);

  const std::vector<std::string>* texts_;
  std::vector<Slot> slots_;
  uint64_t mask_ = 0;
};

}  // namespace tether::tokenizer
