#pragma once

#include <cstdint>
#include <vector>

namespace tether::chat {

// Checks a JSON object or array one byte at a time, so a streaming parser
// knows the byte on which the value closes (and that every byte it passed on
// so far is a valid JSON prefix) without waiting for the rest of the text.
class ToolCallJsonScanner {
 public:
  enum class Status {
    kContinue,  // the byte fits; the value is still open
    kDone,      // the byte closed the top-level value
    kError,     // the byte cannot follow what came before
  };

  static constexpr int kMaxDepth = 128;

  // Feeds one byte. After kDone or kError every further byte is kError.
  Status feed(char byte);

 private:
  enum class Expect { kValue, kValueOrClose, kKeyOrClose, kKey, kColon, kCommaOrClose };
  enum class Number { kNone, kMinus, kZero, kInt, kDot, kFrac, kExp, kExpSign, kExpDigits };

  Status structural(char byte);
  Status after_value();
  Status fail();

  std::vector<char> stack_;  // '{' or '['
  Expect expect_ = Expect::kValue;
  bool finished_ = false;
  bool in_string_ = false;
  bool string_is_key_ = false;
  bool escape_ = false;
  int unicode_digits_left_ = 0;
  const char* literal_rest_ = nullptr;  // the rest of true/false/null being matched
  Number number_ = Number::kNone;
};

}  // namespace tether::chat
