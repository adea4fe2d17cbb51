#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/tokenizer/token_id.h"
#include "engine/tokenizer/token_text_index.h"
#include "engine/tokenizer/vocab_spec.h"

namespace tether::tokenizer {

enum class VocabKind {
  kSentencePiece,  // tokenizer.ggml.model = "llama": score-driven merges over ▁-escaped text
  kByteLevelBpe,   // tokenizer.ggml.model = "gpt2": ranked merges over GPT-2 byte symbols
};

// A validated vocabulary: token texts, scores and types, BPE merges, special
// ids and flags, with the family defaults llama.cpp applies when keys are
// absent. Immutable once built (and not copied or moved: hold it by pointer);
// every id it hands out is in range.
class Vocab {
 public:
  // Throws Error (kCorruptData for inconsistent data, kUnsupported for an
  // unknown model or pre-tokenizer type) with a one-line message.
  explicit Vocab(VocabSpec spec);
  Vocab(const Vocab&) = delete;
  Vocab& operator=(const Vocab&) = delete;

  VocabKind kind() const { return kind_; }
  const std::string& model() const { return model_; }
  // The pre-tokenizer type (BPE only; "default" when the file names none).
  const std::string& pre_type() const { return pre_type_; }

  int32_t n_tokens() const { return static_cast<int32_t>(texts_.size()); }
  bool contains(TokenId id) const { return id >= 0 && id < n_tokens(); }
  const std::string& text(TokenId id) const { return texts_.at(static_cast<size_t>(id)); }
  float score(TokenId id) const { return scores_.at(static_cast<size_t>(id)); }
  TokenType type(TokenId id) const { return types_.at(static_cast<size_t>(id)); }
  // The id whose text is exactly `text`, or kNoToken (the last id wins on duplicates).
  TokenId find(std::string_view text) const;

  // Control and unknown tokens: not rendered unless asked, matched in input
  // text only when parsing specials.
  bool is_special(TokenId id) const;
  // Tokens whose text is cut out of input before normal tokenizing
  // (control, user-defined, unknown), longest text first.
  const std::vector<TokenId>& splittable_tokens() const { return splittable_tokens_; }
  // Whether whitespace left / right of a matched special token is swallowed.
  bool lstrip(TokenId id) const { return strip_flags_.at(static_cast<size_t>(id)) & kLstrip; }
  bool rstrip(TokenId id) const { return strip_flags_.at(static_cast<size_t>(id)) & kRstrip; }

  // Merge rules in rank order (rank = index), BPE only.
  const std::vector<std::pair<std::string, std::string>>& merges() const { return merges_; }

  TokenId bos_id() const { return bos_id_; }
  TokenId eos_id() const { return eos_id_; }
  TokenId eot_id() const { return eot_id_; }
  TokenId unk_id() const { return unk_id_; }
  TokenId pad_id() const { return pad_id_; }
  bool add_bos() const { return add_bos_; }
  bool add_eos() const { return add_eos_; }
  bool add_space_prefix() const { return add_space_prefix_; }
  // End-of-generation: EOS, EOT, and tokens whose text marks the end of a turn.
  bool is_eog(TokenId id) const;
  const std::vector<TokenId>& eog_ids() const { return eog_ids_; }

 private:
  static constexpr uint8_t kLstrip = 1;
  static constexpr uint8_t kRstrip = 2;

  void load_tokens(VocabSpec& spec);
  void load_merges(const VocabSpec& spec);
  void load_special_ids(const VocabSpec& spec);
  void detect_end_tokens();
  void build_splittable_tokens(const std::string& model_name);

  VocabKind kind_ = VocabKind::kSentencePiece;
  std::string model_;
  std::string pre_type_;
  std::vector<std::string> texts_;
  std::vector<float> scores_;
  std::vector<TokenType> types_;
  std::vector<uint8_t> strip_flags_;
  TokenTextIndex index_;  // points at texts_, so a Vocab stays where it is built
  std::vector<std::pair<std::string, std::string>> merges_;
  std::vector<TokenId> splittable_tokens_;
  std::vector<TokenId> eog_ids_;

  TokenId bos_id_ = kNoToken;
  TokenId eos_id_ = kNoToken;
  TokenId eot_id_ = kNoToken;
  TokenId unk_id_ = kNoToken;
  TokenId pad_id_ = kNoToken;
  bool add_bos_ = false;
  bool add_eos_ = false;
  bool add_space_prefix_ = false;
};

}  // namespace tether::tokenizer
