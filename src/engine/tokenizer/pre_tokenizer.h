#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace tether::tokenizer {

// Splits text into the words that byte-level BPE merges within, the way the
// `tokenizer.ggml.pre` type names. A type is a sequence of regexes: each one
// splits every fragment left by the previous one into its matches and the
// unmatched runs between them (both are kept), and sees only that fragment
// (lookaheads and `$` stop at its end). This is how llama.cpp and Hugging Face
// `Split(..., behavior=isolated)` sequences behave.
//
// Regexes run on PCRE2 in UTF + UCP mode (JIT-compiled where available), so
// \p{L}, \p{N}, \s are Unicode-aware. Input must be valid UTF-8 (callers pass
// unicode::sanitize_utf8 output).
class PreTokenizer {
 public:
  // Throws Error(kUnsupported) naming `pre_type` when it is not known.
  static PreTokenizer for_type(std::string_view pre_type);
  // A custom sequence (tests, future types); throws Error naming a bad regex.
  static PreTokenizer from_patterns(std::string name, std::vector<std::string> patterns);

  PreTokenizer(PreTokenizer&&) noexcept;
  PreTokenizer& operator=(PreTokenizer&&) noexcept;
  ~PreTokenizer();

  const std::string& name() const { return name_; }

  // The words of `text`, in order; they concatenate back to `text`.
  std::vector<std::string_view> split(std::string_view text) const;

  // Whether a whole word that is itself a token skips merging (llama3-style).
  bool ignore_merges() const { return ignore_merges_; }

  // Every pre type for_type() accepts.
  static std::vector<std::string> known_types();
  static bool is_known_type(std::string_view pre_type);
  // Whether vocabularies of this pre type add BOS when the file does not say
  // (the Llama 3 family does, as in llama.cpp).
  static bool type_adds_bos(std::string_view pre_type);

 private:
  class Regex;
  PreTokenizer() = default;

  std::string name_;
  std::vector<std::unique_ptr<Regex>> regexes_;
  bool ignore_merges_ = false;
};

}  // namespace tether::tokenizer
