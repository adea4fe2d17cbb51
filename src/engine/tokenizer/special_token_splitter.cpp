#include "engine/tokenizer/special_token_splitter.h"

#include <bitset>
#include <memory>

namespace tether::tokenizer {
namespace {

// The ASCII whitespace std::isspace knows in the C locale (what llama.cpp strips).
bool is_strip_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

}  // namespace

std::vector<TextFragment> SpecialTokenSplitter::split(std::string_view text,
                                                      bool parse_special) const {
  std::vector<TextFragment> fragments;
  if (text.empty()) return fragments;
  fragments.push_back({false, kNoToken, text});

  // Vocabularies can hold thousands of added tokens; a token whose first two
  // bytes never occur next to each other in the text cannot match, so one
  // pass over the text spares most of the searches.
  auto pairs_present = std::make_unique<std::bitset<65536>>();
  for (size_t i = 0; i + 1 < text.size(); ++i) {
    pairs_present->set(static_cast<size_t>(static_cast<uint8_t>(text[i])) << 8 |
                       static_cast<uint8_t>(text[i + 1]));
  }

  std::vector<TextFragment> next;
  for (const TokenId id : vocab_->splittable_tokens()) {
    if (!parse_special && vocab_->is_special(id)) continue;
    const std::string& needle = vocab_->text(id);
    if (needle.size() >= 2 &&
        !pairs_present->test(static_cast<size_t>(static_cast<uint8_t>(needle[0])) << 8 |
                             static_cast<uint8_t>(needle[1]))) {
      continue;
    }
    const bool lstrip = vocab_->lstrip(id);
    const bool rstrip = vocab_->rstrip(id);

    bool any_match = false;
    next.clear();
    for (const TextFragment& fragment : fragments) {
      if (fragment.is_token || fragment.text.find(needle) == std::string_view::npos) {
        next.push_back(fragment);
        continue;
      }
      any_match = true;
      std::string_view rest = fragment.text;
      while (!rest.empty()) {
        const size_t match = rest.find(needle);
        if (match == std::string_view::npos) {
          next.push_back({false, kNoToken, rest});
          break;
        }
        std::string_view left = rest.substr(0, match);
        if (lstrip) {
          while (!left.empty() && is_strip_space(left.back())) left.remove_suffix(1);
        }
        if (!left.empty()) next.push_back({false, kNoToken, left});
        next.push_back({true, id, rest.substr(match, needle.size())});
        rest.remove_prefix(match + needle.size());
        if (rstrip) {
          while (!rest.empty() && is_strip_space(rest.front())) rest.remove_prefix(1);
        }
      }
    }
    if (any_match) fragments.swap(next);
  }
  return fragments;
}

}  // namespace tether::tokenizer
