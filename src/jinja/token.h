#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace tether::jinja {

enum class TokenKind {
  kText,           // template data between tags, whitespace control applied
  kVariableBegin,  // {{
  kVariableEnd,    // }}
  kBlockBegin,     // {%
  kBlockEnd,       // %}
  kName,
  kString,
  kInteger,
  kFloat,
  kOperator,  // punctuation and operators: + - ** == ( [ | ...
  kEnd,
};

struct Token {
  TokenKind kind = TokenKind::kEnd;
  std::string text;  // text, name, decoded string literal or operator
  int64_t int_value = 0;
  double float_value = 0;
  size_t offset = 0;  // into the normalized source, for line:column
};

}  // namespace tether::jinja
