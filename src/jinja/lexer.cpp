#include "jinja/lexer.h"

#include <cstring>
#include <limits>

#include "common/error.h"
#include "jinja/utf8.h"

namespace tether::jinja {
namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_name_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool is_name_char(char c) { return is_name_start(c) || is_digit(c); }

// Jinja2 splits on \r\n, \r and \n and joins with \n, dropping one trailing
// newline (keep_trailing_newline is off).
std::string normalize_newlines(std::string_view source) {
  std::string out;
  out.reserve(source.size());
  for (size_t i = 0; i < source.size(); ++i) {
    if (source[i] == '\r') {
      out += '\n';
      if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
    } else {
      out += source[i];
    }
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string describe_position(std::string_view source, size_t offset) {
  size_t line = 1;
  size_t line_start = 0;
  for (size_t i = 0; i < offset && i < source.size(); ++i) {
    if (source[i] == '\n') {
      ++line;
      line_start = i + 1;
    }
  }
  return "line " + std::to_string(line) + ", column " + std::to_string(offset - line_start + 1);
}

Lexer::Lexer(std::string_view source) : source_(normalize_newlines(source)) {}

void Lexer::fail(size_t offset, std::string_view message) const {
  throw_error(ErrorCode::kInvalidArgument, "template syntax error at {}: {}",
              describe_position(source_, offset), message);
}

std::vector<Token> Lexer::tokenize() {
  tokens_.clear();
  pos_ = 0;
  line_starting_ = true;
  strip_next_text_ = false;
  const size_t size = source_.size();
  while (pos_ <= size) {
    size_t tag = pos_;
    while (true) {
      tag = source_.find('{', tag);
      if (tag == std::string::npos || tag + 1 >= size) {
        tag = std::string::npos;
        break;
      }
      const char next = source_[tag + 1];
      if (next == '{' || next == '%' || next == '#') break;
      ++tag;
    }
    const size_t text_end = tag == std::string::npos ? size : tag;
    std::string text = source_.substr(pos_, text_end - pos_);
    const size_t text_offset = pos_;
    if (strip_next_text_) {
      size_t skip = 0;
      while (skip < text.size() && is_space(text[skip])) ++skip;
      if (skip > 0) line_starting_ = text[skip - 1] == '\n';
      text.erase(0, skip);
      strip_next_text_ = false;
    }
    if (tag == std::string::npos) {
      if (!text.empty()) tokens_.push_back(Token{TokenKind::kText, std::move(text), 0, 0, text_offset});
      break;
    }
    const char kind = source_[tag + 1];
    const char sign = tag + 2 < size ? source_[tag + 2] : '\0';
    if (sign == '-') {
      while (!text.empty() && is_space(text.back())) text.pop_back();
    } else if (kind != '{' && sign != '+') {
      // lstrip_blocks: spaces and tabs between a line start and a block tag.
      const size_t line_pos = text.rfind('\n') == std::string::npos ? 0 : text.rfind('\n') + 1;
      if (line_pos > 0 || line_starting_) {
        if (text.find_first_not_of(" \t", line_pos) == std::string::npos) text.resize(line_pos);
      }
    }
    if (!text.empty()) tokens_.push_back(Token{TokenKind::kText, std::move(text), 0, 0, text_offset});

    const bool has_sign = sign == '-' || (sign == '+' && kind != '{');
    size_t inner = tag + 2 + (has_sign ? 1 : 0);
    if (kind == '#') {
      const size_t close = source_.find("#}", inner);
      if (close == std::string::npos) fail(tag, "unclosed comment");
      pos_ = close + 2;
      line_starting_ = false;
      if (close > inner && source_[close - 1] == '-') {
        strip_next_text_ = true;
      } else if (close > inner && source_[close - 1] == '+') {
        // `+#}` keeps the newline
      } else if (pos_ < size && source_[pos_] == '\n') {
        ++pos_;
        line_starting_ = true;
      }
      continue;
    }
    if (kind == '%' && lex_raw(tag, inner)) continue;
    tokens_.push_back(Token{kind == '{' ? TokenKind::kVariableBegin : TokenKind::kBlockBegin, {}, 0, 0, tag});
    pos_ = inner;
    lex_tag_contents(kind == '{' ? TokenKind::kVariableEnd : TokenKind::kBlockEnd);
  }
  tokens_.push_back(Token{TokenKind::kEnd, {}, 0, 0, size});
  return std::move(tokens_);
}

bool Lexer::lex_raw(size_t tag, size_t inner) {
  const size_t size = source_.size();
  size_t p = inner;
  auto skip_spaces = [&](size_t& at) {
    while (at < size && is_space(source_[at])) ++at;
  };
  // Matches `name` then an optional sign and `%}` at `at`; sets the sign.
  auto match_tag_rest = [&](size_t& at, std::string_view name, char& sign) {
    skip_spaces(at);
    if (source_.compare(at, name.size(), name) != 0) return false;
    at += name.size();
    if (at < size && is_name_char(source_[at])) return false;
    skip_spaces(at);
    sign = '\0';
    if (at < size && (source_[at] == '-' || source_[at] == '+')) sign = source_[at++];
    if (source_.compare(at, 2, "%}") != 0) return false;
    at += 2;
    return true;
  };
  char open_sign = '\0';
  if (!match_tag_rest(p, "raw", open_sign)) return false;
  size_t content_start = p;
  // Jinja2 applies no trim_blocks after `raw %}`, only the `-` modifier.
  if (open_sign == '-') {
    while (content_start < size && is_space(source_[content_start])) ++content_start;
  }
  size_t search = content_start;
  while (true) {
    const size_t end_tag = source_.find("{%", search);
    if (end_tag == std::string::npos) fail(tag, "missing endraw for a raw block");
    size_t at = end_tag + 2;
    char end_open_sign = '\0';
    if (at < size && (source_[at] == '-' || source_[at] == '+')) end_open_sign = source_[at++];
    char close_sign = '\0';
    if (!match_tag_rest(at, "endraw", close_sign)) {
      search = end_tag + 2;
      continue;
    }
    std::string text = source_.substr(content_start, end_tag - content_start);
    if (end_open_sign == '-') {
      while (!text.empty() && is_space(text.back())) text.pop_back();
    } else if (end_open_sign != '+') {
      const size_t line_pos = text.rfind('\n') == std::string::npos ? std::string::npos : text.rfind('\n') + 1;
      if (line_pos != std::string::npos && text.find_first_not_of(" \t", line_pos) == std::string::npos)
        text.resize(line_pos);
    }
    if (!text.empty()) tokens_.push_back(Token{TokenKind::kText, std::move(text), 0, 0, content_start});
    pos_ = at;
    line_starting_ = false;
    if (close_sign == '-') {
      strip_next_text_ = true;
    } else if (close_sign != '+' && pos_ < size && source_[pos_] == '\n') {
      ++pos_;
      line_starting_ = true;
    }
    return true;
  }
}

void Lexer::lex_tag_contents(TokenKind end_kind) {
  const size_t size = source_.size();
  const size_t tag_start = tokens_.back().offset;
  const char* end_text = end_kind == TokenKind::kBlockEnd ? "%}" : "}}";
  int depth = 0;
  while (true) {
    while (pos_ < size && is_space(source_[pos_])) ++pos_;
    if (pos_ >= size) fail(tag_start, end_kind == TokenKind::kBlockEnd ? "unclosed block tag" : "unclosed variable tag");
    auto starts_with = [&](const char* s) { return source_.compare(pos_, std::strlen(s), s) == 0; };
    if (depth == 0) {
      const bool minus = source_[pos_] == '-' && source_.compare(pos_ + 1, 2, end_text) == 0;
      const bool plus = end_kind == TokenKind::kBlockEnd && source_[pos_] == '+' &&
                        source_.compare(pos_ + 1, 2, end_text) == 0;
      if (minus || plus || starts_with(end_text)) {
        tokens_.push_back(Token{end_kind, {}, 0, 0, pos_});
        pos_ += (minus || plus) ? 3 : 2;
        line_starting_ = false;
        if (minus) {
          strip_next_text_ = true;
        } else if (!plus && end_kind == TokenKind::kBlockEnd && pos_ < size && source_[pos_] == '\n') {
          ++pos_;  // trim_blocks
          line_starting_ = true;
        }
        return;
      }
    }
    const char c = source_[pos_];
    if (is_name_start(c)) {
      const size_t start = pos_;
      while (pos_ < size && is_name_char(source_[pos_])) ++pos_;
      tokens_.push_back(Token{TokenKind::kName, source_.substr(start, pos_ - start), 0, 0, start});
    } else if (is_digit(c)) {
      lex_number();
    } else if (c == '\'' || c == '"') {
      lex_string(c);
    } else {
      static constexpr const char* kTwoChar[] = {"**", "//", "==", "!=", "<=", ">="};
      std::string op;
      for (const char* two : kTwoChar)
        if (starts_with(two)) op = two;
      if (op.empty()) {
        if (std::strchr("+-*/%~<>=()[]{},.:|", c) == nullptr || c == '\0')
          fail(pos_, std::string("unexpected character '") + c + "'");
        op = std::string(1, c);
        if (c == '(' || c == '[' || c == '{') ++depth;
        if ((c == ')' || c == ']' || c == '}') && depth > 0) --depth;
      }
      tokens_.push_back(Token{TokenKind::kOperator, op, 0, 0, pos_});
      pos_ += op.size();
    }
  }
}

void Lexer::lex_number() {
  const size_t size = source_.size();
  const size_t start = pos_;
  std::string digits;
  auto take_digits = [&]() {
    while (pos_ < size && (is_digit(source_[pos_]) || (source_[pos_] == '_' && pos_ + 1 < size && is_digit(source_[pos_ + 1])))) {
      if (source_[pos_] != '_') digits += source_[pos_];
      ++pos_;
    }
  };
  take_digits();
  // After a `.` this is an attribute index (`foo.0`), never a float.
  const bool after_dot = !tokens_.empty() && tokens_.back().kind == TokenKind::kOperator && tokens_.back().text == ".";
  bool is_float = false;
  if (!after_dot && pos_ + 1 < size && source_[pos_] == '.' && is_digit(source_[pos_ + 1])) {
    is_float = true;
    digits += '.';
    ++pos_;
    take_digits();
  }
  if (!after_dot && pos_ < size && (source_[pos_] == 'e' || source_[pos_] == 'E')) {
    size_t look = pos_ + 1;
    if (look < size && (source_[look] == '+' || source_[look] == '-')) ++look;
    if (look < size && is_digit(source_[look])) {
      is_float = true;
      digits += 'e';
      digits.append(source_, pos_ + 1, look - pos_ - 1);
      pos_ = look;
      take_digits();
    }
  }
  Token token{is_float ? TokenKind::kFloat : TokenKind::kInteger, digits, 0, 0, start};
  if (is_float) {
    token.float_value = std::strtod(digits.c_str(), nullptr);
  } else {
    int64_t value = 0;
    for (char d : digits) {
      if (value > (std::numeric_limits<int64_t>::max() - (d - '0')) / 10) fail(start, "integer literal is too large");
      value = value * 10 + (d - '0');
    }
    token.int_value = value;
  }
  tokens_.push_back(std::move(token));
}

void Lexer::lex_string(char quote) {
  const size_t size = source_.size();
  const size_t start = pos_;
  ++pos_;
  std::string value;
  while (true) {
    if (pos_ >= size) fail(start, "unterminated string literal");
    const char c = source_[pos_];
    if (c == quote) {
      ++pos_;
      break;
    }
    if (c != '\\') {
      value += c;
      ++pos_;
      continue;
    }
    if (pos_ + 1 >= size) fail(start, "unterminated string literal");
    const char e = source_[pos_ + 1];
    pos_ += 2;
    switch (e) {
      case 'n': value += '\n'; break;
      case 't': value += '\t'; break;
      case 'r': value += '\r'; break;
      case '\\': value += '\\'; break;
      case '\'': value += '\''; break;
      case '"': value += '"'; break;
      case 'a': value += '\a'; break;
      case 'b': value += '\b'; break;
      case 'f': value += '\f'; break;
      case 'v': value += '\v'; break;
      case '0': value += '\0'; break;
      case '\n': break;  // a backslash-newline continues the line
      case 'x':
      case 'u':
      case 'U': {
        const size_t count = e == 'x' ? 2 : e == 'u' ? 4 : 8;
        uint32_t cp = 0;
        for (size_t i = 0; i < count; ++i) {
          const int h = pos_ + i < size ? hex_value(source_[pos_ + i]) : -1;
          if (h < 0) fail(pos_ - 2, "truncated \\x, \\u or \\U escape");
          cp = cp * 16 + static_cast<uint32_t>(h);
        }
        if (cp > 0x10ffff) fail(pos_ - 2, "escape is not a Unicode code point");
        pos_ += count;
        utf8::append(value, cp);
        break;
      }
      default:
        value += '\\';
        value += e;
        break;
    }
  }
  tokens_.push_back(Token{TokenKind::kString, std::move(value), 0, 0, start});
}

}  // namespace tether::jinja
