#include "engine/tokenizer/unicode.h"

#include <set>

#include <gtest/gtest.h>

namespace tether::tokenizer::unicode {
namespace {

TEST(UnicodeTest, DecodesValidSequencesOfEveryLength) {
  uint32_t cp = 0;
  EXPECT_EQ(decode_one("A", 0, &cp), 1u);
  EXPECT_EQ(cp, 0x41u);
  EXPECT_EQ(decode_one("\xC3\xA9", 0, &cp), 2u);  // é
  EXPECT_EQ(cp, 0xE9u);
  EXPECT_EQ(decode_one("\xE2\x96\x81", 0, &cp), 3u);  // ▁
  EXPECT_EQ(cp, 0x2581u);
  EXPECT_EQ(decode_one("\xF0\x9F\xA6\x99", 0, &cp), 4u);  // 🦙
  EXPECT_EQ(cp, 0x1F999u);
}

TEST(UnicodeTest, RejectsOverlongsSurrogatesTruncationAndOutOfRange) {
  uint32_t cp = 0;
  EXPECT_EQ(decode_one("\xC0\x80", 0, &cp), 0u);          // overlong NUL
  EXPECT_EQ(decode_one("\xE0\x80\x80", 0, &cp), 0u);      // overlong
  EXPECT_EQ(decode_one("\xED\xA0\x80", 0, &cp), 0u);      // surrogate D800
  EXPECT_EQ(decode_one("\xF4\x90\x80\x80", 0, &cp), 0u);  // > U+10FFFF
  EXPECT_EQ(decode_one("\xE2\x96", 0, &cp), 0u);          // truncated
  EXPECT_EQ(decode_one("\x80", 0, &cp), 0u);              // lone continuation
  EXPECT_EQ(decode_one("", 0, &cp), 0u);
  EXPECT_FALSE(is_valid_utf8("ok\xFF"));
  EXPECT_TRUE(is_valid_utf8("Hello, 世界 🦙"));
}

TEST(UnicodeTest, SanitizeReplacesEachMaximalInvalidSubpartOnce) {
  EXPECT_EQ(sanitize_utf8("a\xFF" "b"), "a\xEF\xBF\xBD" "b");
  // A truncated 3-byte sequence is one subpart, then a valid char.
  EXPECT_EQ(sanitize_utf8("\xE2\x96" "x"), "\xEF\xBF\xBD" "x");
  EXPECT_EQ(sanitize_utf8("\x80\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(sanitize_utf8("fine ✓"), "fine ✓");
  EXPECT_TRUE(is_valid_utf8(sanitize_utf8("\xF0\x9F\xA6 \xC3")));
}

TEST(UnicodeTest, AppendUtf8RoundTripsThroughDecode) {
  for (uint32_t cp : {0x0u, 0x7Fu, 0x80u, 0x7FFu, 0x800u, 0xFFFDu, 0x10000u, 0x10FFFFu}) {
    std::string encoded;
    append_utf8(encoded, cp);
    uint32_t decoded = 0;
    ASSERT_EQ(decode_one(encoded, 0, &decoded), encoded.size()) << cp;
    EXPECT_EQ(decoded, cp);
  }
}

TEST(UnicodeTest, IncompleteSuffixHoldsOnlyUnfinishedValidSequences) {
  EXPECT_EQ(incomplete_suffix_length(""), 0u);
  EXPECT_EQ(incomplete_suffix_length("abc"), 0u);
  EXPECT_EQ(incomplete_suffix_length("a\xF0"), 1u);
  EXPECT_EQ(incomplete_suffix_length("a\xF0\x9F"), 2u);
  EXPECT_EQ(incomplete_suffix_length("a\xF0\x9F\xA6"), 3u);
  EXPECT_EQ(incomplete_suffix_length("a\xF0\x9F\xA6\x99"), 0u);  // complete
  EXPECT_EQ(incomplete_suffix_length("a\x80"), 0u);              // can never complete
  EXPECT_EQ(incomplete_suffix_length("\xE0\x80"), 0u);           // overlong start
  EXPECT_EQ(incomplete_suffix_length("\xFF"), 0u);
}

TEST(UnicodeTest, Gpt2ByteMapIsABijectionWithTheKnownLayout) {
  EXPECT_EQ(byte_to_codepoint('!'), 0x21u);
  EXPECT_EQ(byte_to_codepoint('~'), 0x7Eu);
  EXPECT_EQ(byte_to_codepoint(0xA1), 0xA1u);
  EXPECT_EQ(byte_to_codepoint(0x00), 0x100u);
  EXPECT_EQ(byte_to_codepoint(' '), 0x120u);   // 'Ġ'
  EXPECT_EQ(byte_to_codepoint('\n'), 0x10Au);  // 'Ċ'
  EXPECT_EQ(byte_to_codepoint(0xAD), 0x143u);  // the last unprintable byte
  EXPECT_EQ(byte_to_utf8(' '), "\xC4\xA0");
  std::set<uint32_t> seen;
  for (int byte = 0; byte < 256; ++byte) {
    const uint32_t cp = byte_to_codepoint(static_cast<uint8_t>(byte));
    EXPECT_TRUE(seen.insert(cp).second);
    EXPECT_EQ(codepoint_to_byte(cp), byte);
  }
  EXPECT_EQ(codepoint_to_byte(0x2581), -1);
  EXPECT_EQ(codepoint_to_byte(0x144), -1);
}

}  // namespace
}  // namespace tether::tokenizer::unicode
