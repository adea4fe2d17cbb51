// libFuzzer target: any text given to a real tokenizer encodes to ids inside
// the vocabulary, decodes without error, and, where the text is valid UTF-8
// and specials are not parsed, decodes back to exactly the text. Streaming
// the ids through IncrementalDetokenizer gives the same text as decode().
// The vocabulary comes from the GGUF named by TETHER_FUZZ_VOCAB.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "common/error.h"
#include "engine/gguf/gguf_file.h"
#include "engine/tokenizer/incremental_detokenizer.h"
#include "engine/tokenizer/tokenizer.h"
#include "engine/tokenizer/unicode.h"

namespace {

using tether::tokenizer::Tokenizer;

const Tokenizer& fuzz_tokenizer() {
  static const std::unique_ptr<Tokenizer> tokenizer = [] {
    const char* path = std::getenv("TETHER_FUZZ_VOCAB");
    if (path == nullptr) {
      std::fprintf(stderr, "tokenizer_fuzz: set TETHER_FUZZ_VOCAB to a GGUF with a tokenizer\n");
      std::abort();
    }
    const auto file = tether::gguf::GgufFile::open(path);
    return std::make_unique<Tokenizer>(Tokenizer::from_gguf(file));
  }();
  return *tokenizer;
}

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "tokenizer_fuzz: %s\n", what);
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const Tokenizer& tokenizer = fuzz_tokenizer();
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const bool valid_utf8 = tether::tokenizer::unicode::is_valid_utf8(text);
  // SentencePiece writes spaces as U+2581, so a literal U+2581 in the text
  // comes back as a space: by design, not a loss to report.
  const bool lossless =
      valid_utf8 && !(tokenizer.vocab().kind() == tether::tokenizer::VocabKind::kSentencePiece &&
                      text.find("\xE2\x96\x81") != std::string_view::npos);
  for (const bool parse_special : {false, true}) {
    const auto ids = tokenizer.encode(text, {.add_special = false, .parse_special = parse_special});
    for (const auto id : ids) check(id >= 0 && id < tokenizer.n_vocab(), "id outside the vocabulary");
    const std::string decoded = tokenizer.decode(ids, {.render_special = parse_special});
    if (lossless && !parse_special) check(decoded == text, "decode(encode(text)) != text");

    // The stream emits whole characters only and adds up to the decoded text
    // (streams continue text, so they keep a SentencePiece leading space).
    const std::string unstripped =
        tokenizer.decode(ids, {.render_special = parse_special, .strip_space_prefix = false});
    tether::tokenizer::IncrementalDetokenizer stream(tokenizer, parse_special);
    std::string streamed;
    for (const auto id : ids) {
      const std::string piece = stream.push(id);
      check(tether::tokenizer::unicode::is_valid_utf8(piece), "stream emitted invalid UTF-8");
      streamed += piece;
    }
    streamed += stream.flush();
    if (valid_utf8) check(streamed == unstripped, "streamed text != decoded text");
  }
  return 0;
}
