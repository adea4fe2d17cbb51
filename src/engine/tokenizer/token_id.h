#pragma once

#include <cstdint>

namespace tether::tokenizer {

// A token's index in its vocabulary (what models embed and sample).
using TokenId = int32_t;
inline constexpr TokenId kNoToken = -1;

// Token kinds as numbered in `tokenizer.ggml.token_type`.
enum class TokenType : int32_t {
  kUndefined = 0,
  kNormal = 1,
  kUnknown = 2,
  kControl = 3,
  kUserDefined = 4,
  kUnused = 5,
  kByte = 6,
};

}  // namespace tether::tokenizer
