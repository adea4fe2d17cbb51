#include "engine/tokenizer/incremental_detokenizer.h"

#include <vector>

#include <gtest/gtest.h>

#include "engine/gguf/gguf_file.h"
#include "engine/tokenizer/synthetic_text.h"
#include "engine/tokenizer/test_vocabs.h"
#include "engine/tokenizer/tokenizer.h"
#include "engine/tokenizer/unicode.h"
#include "test_paths.h"

namespace tether::tokenizer {
namespace {

using testing::spm_byte;

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";

Tokenizer byte_fallback_spm() {
  return Tokenizer(testing::spm_spec({{"\xE2\x96\x81", -1}, {"a", -1}}));
}

TEST(IncrementalDetokenizerTest, HoldsMultiByteCharactersUntilComplete) {
  const Tokenizer tok = byte_fallback_spm();
  const std::vector<TokenId> ids = tok.encode("a é🦙", {.add_special = false});
  // ▁ a ▁ C3 A9 F0 9F A6 99
  ASSERT_EQ(ids.size(), 9u);
  IncrementalDetokenizer detok(tok);
  std::vector<std::string> out;
  for (TokenId id : ids) out.push_back(detok.push(id));
  EXPECT_EQ(out, (std::vector<std::string>{" ", "a", " ", "", "é", "", "", "", "🦙"}));
  EXPECT_EQ(detok.pending_bytes(), 0u);
  EXPECT_EQ(detok.flush(), "");
}

TEST(IncrementalDetokenizerTest, FlushTurnsAnUnfinishedCharacterIntoReplacement) {
  const Tokenizer tok = byte_fallback_spm();
  IncrementalDetokenizer detok(tok);
  EXPECT_EQ(detok.push(spm_byte(0xF0)), "");
  EXPECT_EQ(detok.push(spm_byte(0x9F)), "");
  EXPECT_EQ(detok.pending_bytes(), 2u);
  EXPECT_EQ(detok.flush(), kReplacement);
  EXPECT_EQ(detok.pending_bytes(), 0u);
}

TEST(IncrementalDetokenizerTest, BytesThatCanNeverCompleteAreReplacedAtOnce) {
  const Tokenizer tok = byte_fallback_spm();
  IncrementalDetokenizer detok(tok);
  EXPECT_EQ(detok.push(spm_byte(0xA9)), kReplacement);  // a lone continuation byte
  EXPECT_EQ(detok.push(spm_byte(0xC3)), "");
  // The pending lead byte is broken by a new ASCII character.
  EXPECT_EQ(detok.push(spm_byte('x')), std::string(kReplacement) + "x");
}

TEST(IncrementalDetokenizerTest, SpecialTokensRenderOnlyWhenAsked) {
  const Tokenizer tok = byte_fallback_spm();
  IncrementalDetokenizer plain(tok);
  EXPECT_EQ(plain.push(2), "");
  IncrementalDetokenizer rendered(tok, /*render_special=*/true);
  EXPECT_EQ(rendered.push(2), "</s>");
}

// A byte-level vocabulary splits emoji and CJK across tokens; the streamed
// text must equal the whole decode, and every emitted piece be valid UTF-8.
TEST(IncrementalDetokenizerTest, StreamEqualsWholeDecodeOnRealVocabularies) {
  TETHER_SKIP_WITHOUT_SHARED_TESTDATA();
  for (const char* family : {"gpt-2", "llama-spm"}) {
    const auto path = ::tether::testing::shared_testdata_dir() / "vocab" /
                      (std::string("ggml-vocab-") + family + ".gguf");
    const auto file = gguf::GgufFile::open(path);
    const Tokenizer tok = Tokenizer::from_gguf(file);
    const std::string text = generate_synthetic_text(20000, 5);
    const auto ids = tok.encode(text, {.add_special = false});
    IncrementalDetokenizer detok(tok);
    std::string streamed;
    size_t held_somewhere = 0;
    for (TokenId id : ids) {
      const std::string part = detok.push(id);
      ASSERT_TRUE(unicode::is_valid_utf8(part)) << family;
      held_somewhere += detok.pending_bytes() > 0 ? 1 : 0;
      streamed += part;
    }
    streamed += detok.flush();
    EXPECT_EQ(streamed, tok.decode(ids, {.strip_space_prefix = false})) << family;
    EXPECT_GT(held_somewhere, 0u) << family << ": no character was ever split across tokens";
  }
}

}  // namespace
}  // namespace tether::tokenizer
