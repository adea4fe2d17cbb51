#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "jinja/token.h"

namespace tether::jinja {

// Splits a template into tokens the way Jinja2's lexer does with Hugging
// Face's settings: trim_blocks (drop the newline after a block or comment
// tag), lstrip_blocks (drop spaces and tabs before one on its own line), the
// `-` and `+` tag modifiers, newlines normalized to \n and one trailing newline
// dropped. Errors are Error(kInvalidArgument) with line:column.
class Lexer {
 public:
  explicit Lexer(std::string_view source);

  std::vector<Token> tokenize();
  // The source after newline normalization; token offsets index into it.
  const std::string& source() const { return source_; }

 private:
  void lex_tag_contents(TokenKind end_kind);
  // `{% raw %}...{% endraw %}` at `tag` becomes one text token; false when
  // the block tag is something else.
  bool lex_raw(size_t tag, size_t inner);
  void lex_string(char quote);
  void lex_number();
  [[noreturn]] void fail(size_t offset, std::string_view message) const;

  std::string source_;
  size_t pos_ = 0;
  std::vector<Token> tokens_;
  bool strip_next_text_ = false;  // a `-` end modifier strips the next text's leading whitespace
  bool line_starting_ = true;     // the last tag end consumed a newline (for lstrip_blocks)
};

// "line L, column C" of a byte offset in `source`.
std::string describe_position(std::string_view source, size_t offset);

}  // namespace tether::jinja
