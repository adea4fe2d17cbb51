#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

// UTF-8 and codepoint helpers shared by the tokenizers. Text from outside may
// be any bytes; nothing here reads past the end of its input.
namespace tether::tokenizer::unicode {

inline constexpr uint32_t kReplacementChar = 0xFFFD;

// Decodes one strictly valid UTF-8 sequence (no overlongs, surrogates or
// values past U+10FFFF) starting at `pos`. On success returns its length and
// stores the codepoint; returns 0 when the bytes there are not valid UTF-8.
size_t decode_one(std::string_view text, size_t pos, uint32_t* codepoint);

bool is_valid_utf8(std::string_view text);

// Copies valid sequences and replaces each maximal invalid subpart (a lead
// byte with the continuation bytes that fit it, or a lone byte) with one
// U+FFFD, the W3C/Unicode recommended practice. Regex engines in UTF mode
// and JSON writers can take the result.
std::string sanitize_utf8(std::string_view text);

void append_utf8(std::string& out, uint32_t codepoint);

// How many bytes at the end of `bytes` form a valid but unfinished sequence
// (0..3): a streaming decoder holds these back until more bytes come.
size_t incomplete_suffix_length(std::string_view bytes);

// GPT-2's reversible byte <-> printable-codepoint map used by byte-level BPE:
// printable Latin-1 bytes map to themselves, the other 68 bytes to U+0100+.
uint32_t byte_to_codepoint(uint8_t byte);
// The UTF-8 text of byte_to_codepoint(byte).
const std::string& byte_to_utf8(uint8_t byte);
// The byte a codepoint stands for, or -1 when it is not in the map.
int codepoint_to_byte(uint32_t codepoint);

}  // namespace tether::tokenizer::unicode
