#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/tokenizer/bpe_tokenizer.h"
#include "engine/tokenizer/special_token_splitter.h"
#include "engine/tokenizer/spm_tokenizer.h"
#include "engine/tokenizer/token_id.h"
#include "engine/tokenizer/vocab.h"
#include "engine/tokenizer/vocab_reader.h"

namespace tether::gguf {
class GgufFile;
}

namespace tether::tokenizer {

struct EncodeOptions {
  bool add_special = true;     // BOS / EOS as the vocabulary's add_bos / add_eos say
  bool parse_special = false;  // match control-token texts in the input
};

struct DecodeOptions {
  bool render_special = false;  // include control / unknown tokens' text
  // SentencePiece vocabularies that prefix a space on encode: drop one leading
  // space from the first text piece, so decode(encode(text)) == text.
  bool strip_space_prefix = true;
};

// Text <-> token ids for one model: special-token splitting, then
// SentencePiece BPE or byte-level BPE per the vocabulary. Immutable after
// construction; encode/decode are safe to call from many threads.
class Tokenizer {
 public:
  // Reads the `tokenizer.ggml.*` metadata; throws Error on missing or bad keys.
  static Tokenizer from_gguf(const gguf::GgufFile& file) { return Tokenizer(read_vocab_spec(file)); }
  explicit Tokenizer(VocabSpec spec);

  std::vector<TokenId> encode(std::string_view text, EncodeOptions options = {}) const;

  // A token's text as bytes: ▁ → space and <0xXX> → the byte (SentencePiece),
  // GPT-2 byte symbols → bytes (byte-level BPE). Control and unknown tokens
  // give "" unless render_special. Throws Error for an id outside the vocabulary.
  const std::string& token_to_piece(TokenId id, bool render_special = false) const;

  // The concatenated pieces (may end inside a UTF-8 character if the ids do;
  // use IncrementalDetokenizer for streams). Throws Error for a bad id.
  std::string decode(std::span<const TokenId> ids, DecodeOptions options = {}) const;

  const Vocab& vocab() const { return *vocab_; }
  int32_t n_vocab() const { return vocab_->n_tokens(); }
  TokenId bos_id() const { return vocab_->bos_id(); }
  TokenId eos_id() const { return vocab_->eos_id(); }
  TokenId eot_id() const { return vocab_->eot_id(); }
  bool is_eog(TokenId id) const { return vocab_->is_eog(id); }

 private:
  void check_id(TokenId id) const;
  std::string piece_of(TokenId id) const;

  // Held by pointer so the parts below, which point at it, survive moves.
  std::shared_ptr<const Vocab> vocab_;
  std::unique_ptr<SpecialTokenSplitter> splitter_;
  std::unique_ptr<SpmTokenizer> spm_;
  std::unique_ptr<BpeTokenizer> bpe_;
  std::vector<std::string> pieces_;  // per id, as rendered with specials
};

}  // namespace tether::tokenizer
