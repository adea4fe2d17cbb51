#include "engine/tokenizer/vocab.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <span>

#include "common/error.h"
#include "engine/tokenizer/pre_tokenizer.h"

namespace tether::tokenizer {
namespace {

constexpr int32_t kMaxTokenType = static_cast<int32_t>(TokenType::kByte);

// Texts that end a turn in the families we know; llama.cpp recognizes the
// same ones when the file does not name an EOT token.
constexpr std::array<std::string_view, 8> kEndOfTurnTexts = {
    "<|eot_id|>", "<|im_end|>",      "<|end|>", "<end_of_turn>",
    "<|endoftext|>", "<|end_of_text|>", "<EOT>", "<\xEF\xBD\x9C" "end\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>",
};
constexpr std::array<std::string_view, 2> kExtraEogTexts = {"<|eom_id|>", "<|return|>"};

std::string lowercase(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

}  // namespace

Vocab::Vocab(VocabSpec spec) {
  model_ = spec.model;
  if (spec.model == "llama") {
    kind_ = VocabKind::kSentencePiece;
  } else if (spec.model == "gpt2") {
    kind_ = VocabKind::kByteLevelBpe;
  } else if (spec.model.empty()) {
    throw_error(ErrorCode::kCorruptData, "tokenizer.ggml.model is missing");
  } else {
    throw_error(ErrorCode::kUnsupported,
                "unsupported tokenizer model '{}' (tokenizer.ggml.model; tether handles 'llama' "
                "and 'gpt2')",
                spec.model);
  }

  if (kind_ == VocabKind::kByteLevelBpe) {
    pre_type_ = spec.pre.empty() ? "default" : spec.pre;
    if (!PreTokenizer::is_known_type(pre_type_)) {
      throw_error(ErrorCode::kUnsupported, "unknown pre-tokenizer type '{}' (tokenizer.ggml.pre)",
                  pre_type_);
    }
  }

  load_tokens(spec);
  load_merges(spec);
  load_special_ids(spec);
  detect_end_tokens();
  build_splittable_tokens(spec.model_name);
}

void Vocab::load_tokens(VocabSpec& spec) {
  if (spec.tokens.empty()) {
    throw_error(ErrorCode::kCorruptData, "tokenizer.ggml.tokens is missing or empty");
  }
  if (spec.tokens.size() > static_cast<size_t>(INT32_MAX)) {
    throw_error(ErrorCode::kCorruptData, "tokenizer.ggml.tokens has {} entries, too many",
                spec.tokens.size());
  }
  const size_t n = spec.tokens.size();
  if (!spec.scores.empty() && spec.scores.size() != n) {
    throw_error(ErrorCode::kCorruptData,
                "tokenizer.ggml.scores has {} entries but tokenizer.ggml.tokens has {}",
                spec.scores.size(), n);
  }
  if (!spec.token_types.empty() && spec.token_types.size() != n) {
    throw_error(ErrorCode::kCorruptData,
                "tokenizer.ggml.token_type has {} entries but tokenizer.ggml.tokens has {}",
                spec.token_types.size(), n);
  }

  texts_ = std::move(spec.tokens);
  scores_ = spec.scores.empty() ? std::vector<float>(n, 0.0f) : std::move(spec.scores);
  types_.assign(n, TokenType::kNormal);
  for (size_t id = 0; id < spec.token_types.size(); ++id) {
    const int32_t value = spec.token_types[id];
    if (value < 0 || value > kMaxTokenType) {
      throw_error(ErrorCode::kCorruptData, "tokenizer.ggml.token_type[{}] = {} is not a token type",
                  id, value);
    }
    types_[id] = static_cast<TokenType>(value);
  }
  strip_flags_.assign(n, 0);

  index_ = TokenTextIndex(&texts_);
}

void Vocab::load_merges(const VocabSpec& spec) {
  if (kind_ != VocabKind::kByteLevelBpe) return;
  if (!spec.has_merges) {
    throw_error(ErrorCode::kCorruptData,
                "tokenizer.ggml.merges is missing (required by the gpt2 tokenizer model)");
  }
  merges_.reserve(spec.merges.size());
  for (size_t rank = 0; rank < spec.merges.size(); ++rank) {
    const std::string& rule = spec.merges[rank];
    // The separator is the first space after the first character, so a left
    // part may itself start with a space.
    const size_t space = rule.size() > 1 ? rule.find(' ', 1) : std::string::npos;
    if (space == std::string::npos || space + 1 >= rule.size()) {
      throw_error(ErrorCode::kCorruptData,
                  "tokenizer.ggml.merges[{}] = '{}' is not two symbols separated by a space", rank,
                  rule);
    }
    merges_.emplace_back(rule.substr(0, space), rule.substr(space + 1));
  }
}

void Vocab::load_special_ids(const VocabSpec& spec) {
  const bool spm = kind_ == VocabKind::kSentencePiece;
  // Family defaults (llama.cpp's); a default that does not fit the vocabulary
  // is dropped, an explicit id that does not fit is an error.
  bos_id_ = spm ? 1 : 11;
  eos_id_ = spm ? 2 : 11;
  unk_id_ = spm ? 0 : kNoToken;
  for (TokenId* id : {&bos_id_, &eos_id_, &unk_id_}) {
    if (!contains(*id)) *id = kNoToken;
  }

  auto read_id = [this](const std::optional<int64_t>& value, const char* key, TokenId* out) {
    if (!value) return;
    if (*value < 0 || *value >= n_tokens()) {
      throw_error(ErrorCode::kCorruptData, "{} = {} is outside the vocabulary (0..{})", key, *value,
                  n_tokens() - 1);
    }
    *out = static_cast<TokenId>(*value);
  };
  read_id(spec.bos_id, "tokenizer.ggml.bos_token_id", &bos_id_);
  read_id(spec.eos_id, "tokenizer.ggml.eos_token_id", &eos_id_);
  read_id(spec.eot_id, "tokenizer.ggml.eot_token_id", &eot_id_);
  read_id(spec.unk_id, "tokenizer.ggml.unknown_token_id", &unk_id_);
  // Converters are known to write a padding id one past the vocabulary; we
  // never emit padding, so such an id is dropped rather than refused.
  if (spec.pad_id && *spec.pad_id >= 0 && *spec.pad_id < n_tokens()) {
    pad_id_ = static_cast<TokenId>(*spec.pad_id);
  }

  add_bos_ = spm || PreTokenizer::type_adds_bos(pre_type_);
  add_eos_ = false;
  add_space_prefix_ = spm;
  if (spec.add_bos) add_bos_ = *spec.add_bos;
  if (spec.add_eos) add_eos_ = *spec.add_eos;
  if (spec.add_space_prefix) add_space_prefix_ = *spec.add_space_prefix;
  if (add_bos_ && bos_id_ == kNoToken) {
    throw_error(ErrorCode::kCorruptData,
                "tokenizer.ggml.add_bos_token is true but there is no BOS token id");
  }
  if (add_eos_ && eos_id_ == kNoToken) {
    throw_error(ErrorCode::kCorruptData,
                "tokenizer.ggml.add_eos_token is true but there is no EOS token id");
  }
}

void Vocab::detect_end_tokens() {
  auto mark_control = [this](TokenId id) {
    // A turn-ending token typed otherwise is a conversion slip; treating it
    // as control keeps it from being rendered or matched in plain text.
    if (types_[static_cast<size_t>(id)] != TokenType::kControl) {
      types_[static_cast<size_t>(id)] = TokenType::kControl;
    }
  };
  if (eot_id_ == kNoToken) {
    for (std::string_view text : kEndOfTurnTexts) {
      const TokenId id = find(text);
      if (id != kNoToken) {
        eot_id_ = id;
        mark_control(id);
        break;
      }
    }
  }
  auto add_eog = [this](TokenId id) {
    if (id != kNoToken && std::find(eog_ids_.begin(), eog_ids_.end(), id) == eog_ids_.end()) {
      eog_ids_.push_back(id);
    }
  };
  for (auto texts : {std::span<const std::string_view>(kEndOfTurnTexts),
                     std::span<const std::string_view>(kExtraEogTexts)}) {
    for (std::string_view text : texts) {
      const TokenId id = find(text);
      if (id == kNoToken) continue;
      mark_control(id);
      add_eog(id);
    }
  }
  add_eog(eos_id_);
  add_eog(eot_id_);
  std::sort(eog_ids_.begin(), eog_ids_.end());
}

void Vocab::build_splittable_tokens(const std::string& model_name) {
  for (TokenId id = 0; id < n_tokens(); ++id) {
    const TokenType type = types_[static_cast<size_t>(id)];
    if (texts_[static_cast<size_t>(id)].empty()) continue;
    if (type == TokenType::kControl || type == TokenType::kUserDefined ||
        type == TokenType::kUnknown) {
      splittable_tokens_.push_back(id);
    }
  }
  // Longest first, so a special token is never cut out of a longer one.
  std::stable_sort(splittable_tokens_.begin(), splittable_tokens_.end(),
                   [this](TokenId a, TokenId b) { return text(a).size() > text(b).size(); });

  // Phi-3's added tokens swallow the whitespace after them (its
  // tokenizer.json says rstrip); GGUF has no field for it, so go by name as
  // llama.cpp does.
  const std::string name = lowercase(model_name);
  if (name.find("phi-3") != std::string::npos || name.find("phi3") != std::string::npos) {
    for (TokenId id : splittable_tokens_) strip_flags_[static_cast<size_t>(id)] |= kRstrip;
    if (TokenId id = find("</s>"); id != kNoToken) strip_flags_[static_cast<size_t>(id)] |= kRstrip;
    for (std::string_view text : {"<unk>", "<s>", "<|endoftext|>"}) {
      if (TokenId id = find(text); id != kNoToken) {
        strip_flags_[static_cast<size_t>(id)] &= static_cast<uint8_t>(~kRstrip);
      }
    }
  }
}

TokenId Vocab::find(std::string_view text) const { return index_.find(text); }

bool Vocab::is_special(TokenId id) const {
  const TokenType t = type(id);
  return t == TokenType::kControl || t == TokenType::kUnknown;
}

bool Vocab::is_eog(TokenId id) const {
  return std::binary_search(eog_ids_.begin(), eog_ids_.end(), id);
}

}  // namespace tether::tokenizer
