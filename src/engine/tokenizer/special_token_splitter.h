#pragma once

#include <string_view>
#include <vector>

#include "engine/tokenizer/token_id.h"
#include "engine/tokenizer/vocab.h"

namespace tether::tokenizer {

// A piece of input: either text still to be tokenized or a special token
// found in it.
struct TextFragment {
  bool is_token = false;
  TokenId token = kNoToken;
  std::string_view text;  // the raw text (for a token: the matched text)
};

// Cuts special-token texts out of input before normal tokenizing, as
// llama.cpp and Hugging Face do: token by token, longest text first, every
// occurrence in every remaining text fragment. User-defined tokens are always
// cut out; control and unknown tokens only when parsing specials.
class SpecialTokenSplitter {
 public:
  // `vocab` must outlive this splitter.
  explicit SpecialTokenSplitter(const Vocab& vocab) : vocab_(&vocab) {}

  std::vector<TextFragment> split(std::string_view text, bool parse_special) const;

 private:
  const Vocab* vocab_;
};

}  // namespace tether::tokenizer
