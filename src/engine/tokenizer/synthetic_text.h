#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace tether::tokenizer {

// Deterministic, varied text for tokenizer benchmarks and tests: English-like
// prose made of generated words, numbers, punctuation and contractions,
// code-like lines, accented Latin, Cyrillic, CJK, emoji and odd whitespace.
// Everything is generated from `seed` (nothing is copied from a corpus);
// the result is valid UTF-8 of about `n_bytes` bytes (never less).
std::string generate_synthetic_text(size_t n_bytes, uint64_t seed = 42);

}  // namespace tether::tokenizer
