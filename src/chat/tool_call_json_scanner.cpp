#include "chat/tool_call_json_scanner.h"

#include <cctype>

namespace tether::chat {
namespace {

bool is_digit(char byte) { return byte >= '0' && byte <= '9'; }
bool is_hex(char byte) { return std::isxdigit(static_cast<unsigned char>(byte)) != 0; }
bool is_json_whitespace(char byte) { return byte == ' ' || byte == '\t' || byte == '\n' || byte == '\r'; }

}  // namespace

ToolCallJsonScanner::Status ToolCallJsonScanner::fail() {
  finished_ = true;
  return Status::kError;
}

ToolCallJsonScanner::Status ToolCallJsonScanner::after_value() {
  if (stack_.empty()) {
    finished_ = true;
    return Status::kDone;
  }
  expect_ = Expect::kCommaOrClose;
  return Status::kContinue;
}

ToolCallJsonScanner::Status ToolCallJsonScanner::feed(char byte) {
  if (finished_) return Status::kError;
  if (in_string_) {
    if (unicode_digits_left_ > 0) {
      if (!is_hex(byte)) return fail();
      --unicode_digits_left_;
      return Status::kContinue;
    }
    if (escape_) {
      escape_ = false;
      switch (byte) {
        case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
          return Status::kContinue;
        case 'u':
          unicode_digits_left_ = 4;
          return Status::kContinue;
        default:
          return fail();
      }
    }
    if (byte == '\\') {
      escape_ = true;
      return Status::kContinue;
    }
    if (static_cast<unsigned char>(byte) < 0x20) return fail();
    if (byte != '"') return Status::kContinue;
    in_string_ = false;
    if (string_is_key_) {
      expect_ = Expect::kColon;
      return Status::kContinue;
    }
    return after_value();
  }
  if (literal_rest_ != nullptr) {
    if (byte != *literal_rest_) return fail();
    ++literal_rest_;
    if (*literal_rest_ != '\0') return Status::kContinue;
    literal_rest_ = nullptr;
    return after_value();
  }
  if (number_ != Number::kNone) {
    const Number state = number_;
    if (is_digit(byte)) {
      switch (state) {
        case Number::kMinus: number_ = byte == '0' ? Number::kZero : Number::kInt; return Status::kContinue;
        case Number::kZero: return fail();  // no leading zeros
        case Number::kInt: return Status::kContinue;
        case Number::kDot: case Number::kFrac: number_ = Number::kFrac; return Status::kContinue;
        case Number::kExp: case Number::kExpSign: case Number::kExpDigits:
          number_ = Number::kExpDigits;
          return Status::kContinue;
        case Number::kNone: break;
      }
    }
    if (byte == '.' && (state == Number::kZero || state == Number::kInt)) {
      number_ = Number::kDot;
      return Status::kContinue;
    }
    if ((byte == 'e' || byte == 'E') && (state == Number::kZero || state == Number::kInt || state == Number::kFrac)) {
      number_ = Number::kExp;
      return Status::kContinue;
    }
    if ((byte == '+' || byte == '-') && state == Number::kExp) {
      number_ = Number::kExpSign;
      return Status::kContinue;
    }
    // Any other byte ends the number, if it may end here, and is then read
    // as structure (numbers never stand alone at the top level here).
    if (state != Number::kZero && state != Number::kInt && state != Number::kFrac && state != Number::kExpDigits) {
      return fail();
    }
    number_ = Number::kNone;
    const Status status = after_value();
    if (status != Status::kContinue) return status;
  }
  return structural(byte);
}

ToolCallJsonScanner::Status ToolCallJsonScanner::structural(char byte) {
  if (is_json_whitespace(byte)) return Status::kContinue;
  switch (expect_) {
    case Expect::kValue:
    case Expect::kValueOrClose: {
      if (byte == ']' && expect_ == Expect::kValueOrClose) {
        stack_.pop_back();
        return after_value();
      }
      // The top level is always a container: a scalar's end is only known
      // from the byte after it, which a stream may never send.
      if (stack_.empty() && byte != '{' && byte != '[') return fail();
      switch (byte) {
        case '{':
        case '[':
          if (static_cast<int>(stack_.size()) >= kMaxDepth) return fail();
          stack_.push_back(byte);
          expect_ = byte == '{' ? Expect::kKeyOrClose : Expect::kValueOrClose;
          return Status::kContinue;
        case '"':
          in_string_ = true;
          string_is_key_ = false;
          return Status::kContinue;
        case 't': literal_rest_ = "rue"; return Status::kContinue;
        case 'f': literal_rest_ = "alse"; return Status::kContinue;
        case 'n': literal_rest_ = "ull"; return Status::kContinue;
        case '-': number_ = Number::kMinus; return Status::kContinue;
        default:
          if (!is_digit(byte)) return fail();
          number_ = byte == '0' ? Number::kZero : Number::kInt;
          return Status::kContinue;
      }
    }
    case Expect::kKeyOrClose:
      if (byte == '}') {
        stack_.pop_back();
        return after_value();
      }
      [[fallthrough]];
    case Expect::kKey:
      if (byte != '"') return fail();
      in_string_ = true;
      string_is_key_ = true;
      return Status::kContinue;
    case Expect::kColon:
      if (byte != ':') return fail();
      expect_ = Expect::kValue;
      return Status::kContinue;
    case Expect::kCommaOrClose:
      if (byte == ',') {
        expect_ = stack_.back() == '{' ? Expect::kKey : Expect::kValue;
        return Status::kContinue;
      }
      if ((byte == '}' && stack_.back() == '{') || (byte == ']' && stack_.back() == '[')) {
        stack_.pop_back();
        return after_value();
      }
      return fail();
  }
  return fail();
}

}  // namespace tether::chat
