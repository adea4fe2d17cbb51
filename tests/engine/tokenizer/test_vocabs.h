#pragma once

// Small hand-built vocabularies for tokenizer unit tests (no files needed).
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "engine/tokenizer/token_id.h"
#include "engine/tokenizer/unicode.h"
#include "engine/tokenizer/vocab_spec.h"

namespace tether::tokenizer::testing {

// SentencePiece: <unk> <s> </s>, 256 byte tokens (ids 3..258), then `pieces`
// (text, score) from id 259 on.
inline VocabSpec spm_spec(const std::vector<std::pair<std::string, float>>& pieces) {
  VocabSpec spec;
  spec.model = "llama";
  auto add = [&spec](std::string text, float score, TokenType type) {
    spec.tokens.push_back(std::move(text));
    spec.scores.push_back(score);
    spec.token_types.push_back(static_cast<int32_t>(type));
  };
  add("<unk>", 0, TokenType::kUnknown);
  add("<s>", 0, TokenType::kControl);
  add("</s>", 0, TokenType::kControl);
  for (int byte = 0; byte < 256; ++byte) add(fmt::format("<0x{:02X}>", byte), 0, TokenType::kByte);
  for (const auto& [text, score] : pieces) add(text, score, TokenType::kNormal);
  return spec;
}
inline constexpr TokenId kSpmFirstPiece = 259;
inline TokenId spm_byte(uint8_t byte) { return 3 + byte; }

// Byte-level BPE: the 256 GPT-2 byte symbols in byte order (id == byte), then
// `extra_tokens`, with `merges` as given; pre-tokenizer `pre`.
inline VocabSpec bpe_spec(const std::vector<std::string>& extra_tokens,
                          const std::vector<std::string>& merges, std::string pre = "gpt-2") {
  VocabSpec spec;
  spec.model = "gpt2";
  spec.pre = std::move(pre);
  for (int byte = 0; byte < 256; ++byte) {
    spec.tokens.push_back(unicode::byte_to_utf8(static_cast<uint8_t>(byte)));
  }
  for (const auto& text : extra_tokens) spec.tokens.push_back(text);
  spec.merges = merges;
  spec.has_merges = true;
  return spec;
}

}  // namespace tether::tokenizer::testing
