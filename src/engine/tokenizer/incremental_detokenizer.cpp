#include "engine/tokenizer/incremental_detokenizer.h"

#include "engine/tokenizer/tokenizer.h"
#include "engine/tokenizer/unicode.h"

namespace tether::tokenizer {

std::string IncrementalDetokenizer::push(TokenId id) {
  pending_ += tokenizer_->token_to_piece(id, render_special_);
  const size_t held = unicode::incomplete_suffix_length(pending_);
  std::string ready = unicode::sanitize_utf8(std::string_view(pending_).substr(0, pending_.size() - held));
  pending_.erase(0, pending_.size() - held);
  return ready;
}

std::string IncrementalDetokenizer::flush() {
  std::string rest = unicode::sanitize_utf8(pending_);
  pending_.clear();
  return rest;
}

}  // namespace tether::tokenizer
