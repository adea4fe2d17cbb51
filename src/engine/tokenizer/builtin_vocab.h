#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tether::tokenizer {

// Token types as llama.cpp numbers them in tokenizer.ggml.token_type.
enum class BuiltinTokenType : int32_t {
  kNormal = 1,
  kControl = 3,
};

// tether's own byte-level BPE vocabulary (tokenizer.ggml.model = "gpt2"),
// learned from builtin_vocab_corpus() so that models made by `tether
// make-model` need no downloaded tokenizer. Layout of ids:
//   0..255      the single bytes, id = byte value, spelled in GPT-2's
//               byte→unicode form ("Ġ" for a space, "Ċ" for a newline...)
//   256..       learned tokens, in the order the trainer made them
//   then        <|endoftext|>, <|im_start|>, <|im_end|> (CONTROL)
//   then        <|reserved_0|>, <|reserved_1|>... (CONTROL), padding up to
//               the requested size when the corpus supports fewer merges
struct BuiltinVocab {
  std::vector<std::string> tokens;   // spelled in byte→unicode form
  std::vector<int32_t> token_types;  // BuiltinTokenType values
  std::vector<std::string> merges;   // "left right", in rank order
  int32_t endoftext_id = -1;
  int32_t im_start_id = -1;
  int32_t im_end_id = -1;
  size_t learned_tokens = 0;   // tokens made by merges (excludes bytes and specials)
  size_t reserved_tokens = 0;  // <|reserved_N|> padding

  size_t size() const { return tokens.size(); }
};

// The pre-tokenizer the corpus is split with; written to tokenizer.ggml.pre so
// that tokenizers split text the same way the merges were learned.
inline constexpr std::string_view kBuiltinVocabPreTokenizer = "qwen2";
inline constexpr size_t kBuiltinVocabSpecialCount = 3;
inline constexpr size_t kBuiltinVocabMinSize = 256 + kBuiltinVocabSpecialCount;
inline constexpr size_t kBuiltinVocabDefaultSize = 4096;

// Builds the vocabulary with exactly `vocab_size` tokens (>= kBuiltinVocabMinSize,
// else Error kInvalidArgument). Deterministic; takes tens of milliseconds.
BuiltinVocab build_builtin_vocab(size_t vocab_size = kBuiltinVocabDefaultSize);

// GPT-2's reversible byte→unicode spelling of one byte, as UTF-8: printable
// Latin-1 bytes stand for themselves, the others map to U+0100 and up.
std::string byte_to_unicode(uint8_t byte);

// Splits text the way the `qwen2` pre-tokenizer does (contractions, letter
// runs with one leading non-letter, single digits, punctuation runs, newline
// and space runs). Exposed for tests.
std::vector<std::string> pre_tokenize_qwen2(std::string_view text);

// tether's ChatML chat template (Jinja) for tokenizer.chat_template, also
// the fallback for models without one (chat::ChatTemplate::chatml_source):
// "<|im_start|>{role}\n{content}<|im_end|>\n" per message, and
// "<|im_start|>assistant\n" when add_generation_prompt is set.
std::string_view chatml_chat_template();

}  // namespace tether::tokenizer
