#include "engine/tokenizer/token_text_index.h"

#include <xxhash.h>

namespace tether::tokenizer {

TokenTextIndex::TokenTextIndex(const std::vector<std::string>* texts) : texts_(texts) {
  const size_t n = texts == nullptr ? 0 : texts->size();
  size_t capacity = 16;
  while (capacity < 2 * n + 2) capacity *= 2;
  slots_.assign(capacity, Slot{0, kNoToken});
  mask_ = capacity - 1;
  for (size_t id = 0; id < n; ++id) {
    const std::string& text = (*texts)[id];
    if (text.empty()) continue;  // would match everywhere; reachable by id only
    const uint64_t h = hash(text);
    const auto tag = static_cast<uint32_t>(h >> 32);
    for (uint64_t slot = h & mask_;; slot = (slot + 1) & mask_) {
      Slot& s = slots_[slot];
      if (s.id == kNoToken) {
        s = Slot{tag, static_cast<TokenId>(id)};
        break;
      }
      if (s.tag == tag && (*texts)[static_cast<size_t>(s.id)] == text) {
        s.id = static_cast<TokenId>(id);
        break;
      }
    }
  }
}

uint64_t TokenTextIndex::hash(std::string_view text) { return XXH3_64bits(text.data(), text.size()); }

TokenId TokenTextIndex::find(std::string_view text) const {
  if (texts_ == nullptr || text.empty()) return kNoToken;
  const uint64_t h = hash(text);
  const auto tag = static_cast<uint32_t>(h >> 32);
  for (uint64_t slot = h & mask_;; slot = (slot + 1) & mask_) {
    const Slot& s = slots_[slot];
    if (s.id == kNoToken) return kNoToken;
    if (s.tag == tag && (*texts_)[static_cast<size_t>(s.id)] == text) return s.id;
  }
}

}  // namespace tether::tokenizer
