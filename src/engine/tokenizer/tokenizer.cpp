#include "engine/tokenizer/tokenizer.h"

#include "common/error.h"
#include "engine/tokenizer/unicode.h"

namespace tether::tokenizer {
namespace {

// "<0xXX>" → the byte; -1 when the text is not in that form.
int parse_byte_token(std::string_view text) {
  if (text.size() != 6 || text.substr(0, 3) != "<0x" || text[5] != '>') return -1;
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  const int high = hex(text[3]);
  const int low = hex(text[4]);
  return (high < 0 || low < 0) ? -1 : high * 16 + low;
}

std::string unescape_spaces(std::string_view text) {
  static constexpr std::string_view kEscapedSpace = "\xE2\x96\x81";
  std::string out;
  out.reserve(text.size());
  size_t pos = 0;
  while (pos < text.size()) {
    if (text.substr(pos, kEscapedSpace.size()) == kEscapedSpace) {
      out.push_back(' ');
      pos += kEscapedSpace.size();
    } else {
      out.push_back(text[pos++]);
    }
  }
  return out;
}

// GPT-2 byte symbols back to bytes; a codepoint outside the map (a hand-made
// vocabulary) is kept as its own UTF-8.
std::string decode_byte_symbols(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t pos = 0;
  while (pos < text.size()) {
    uint32_t codepoint = 0;
    const size_t length = unicode::decode_one(text, pos, &codepoint);
    if (length == 0) {
      out.push_back(text[pos++]);
      continue;
    }
    const int byte = unicode::codepoint_to_byte(codepoint);
    if (byte >= 0) {
      out.push_back(static_cast<char>(byte));
    } else {
      out.append(text.substr(pos, length));
    }
    pos += length;
  }
  return out;
}

const std::string kEmpty;

}  // namespace

Tokenizer::Tokenizer(VocabSpec spec) : vocab_(std::make_shared<const Vocab>(std::move(spec))) {
  splitter_ = std::make_unique<SpecialTokenSplitter>(*vocab_);
  if (vocab_->kind() == VocabKind::kSentencePiece) {
    spm_ = std::make_unique<SpmTokenizer>(*vocab_);
  } else {
    bpe_ = std::make_unique<BpeTokenizer>(*vocab_);
  }
  pieces_.reserve(static_cast<size_t>(vocab_->n_tokens()));
  for (TokenId id = 0; id < vocab_->n_tokens(); ++id) pieces_.push_back(piece_of(id));
}

std::string Tokenizer::piece_of(TokenId id) const {
  const std::string& text = vocab_->text(id);
  switch (vocab_->type(id)) {
    case TokenType::kControl:
    case TokenType::kUnknown:
    case TokenType::kUserDefined:
      return text;
    case TokenType::kNormal:
      return spm_ ? unescape_spaces(text) : decode_byte_symbols(text);
    case TokenType::kByte: {
      const int byte = parse_byte_token(text);
      return byte >= 0 ? std::string(1, static_cast<char>(byte)) : text;
    }
    case TokenType::kUnused:
    case TokenType::kUndefined:
      break;
  }
  return {};
}

void Tokenizer::check_id(TokenId id) const {
  if (!vocab_->contains(id)) {
    throw_error(ErrorCode::kInvalidArgument, "token id {} is outside the vocabulary (0..{})", id,
                vocab_->n_tokens() - 1);
  }
}

std::vector<TokenId> Tokenizer::encode(std::string_view text, EncodeOptions options) const {
  std::vector<TokenId> out;
  out.reserve(text.size() / 3 + 2);
  if (options.add_special && vocab_->add_bos()) out.push_back(vocab_->bos_id());

  const std::vector<TextFragment> fragments = splitter_->split(text, options.parse_special);
  // SentencePiece prefixes a space to text at the start and after a special token.
  bool after_special = true;
  std::string prefixed;
  for (const TextFragment& fragment : fragments) {
    if (fragment.is_token) {
      out.push_back(fragment.token);
      after_special = true;
      continue;
    }
    if (spm_) {
      if (vocab_->add_space_prefix() && after_special) {
        prefixed.assign(1, ' ').append(fragment.text);
        spm_->encode(prefixed, out);
      } else {
        spm_->encode(fragment.text, out);
      }
    } else {
      bpe_->encode(fragment.text, out);
    }
    after_special = false;
  }

  if (options.add_special && vocab_->add_eos()) out.push_back(vocab_->eos_id());
  return out;
}

const std::string& Tokenizer::token_to_piece(TokenId id, bool render_special) const {
  check_id(id);
  if (!render_special && vocab_->is_special(id)) return kEmpty;
  return pieces_[static_cast<size_t>(id)];
}

std::string Tokenizer::decode(std::span<const TokenId> ids, DecodeOptions options) const {
  std::string out;
  bool strip_pending = options.strip_space_prefix && spm_ && vocab_->add_space_prefix();
  for (const TokenId id : ids) {
    const std::string& piece = token_to_piece(id, options.render_special);
    if (piece.empty()) continue;
    if (strip_pending && !vocab_->is_special(id)) {
      out.append(piece, piece.front() == ' ' ? 1 : 0);
    } else {
      out.append(piece);
    }
    strip_pending = false;
  }
  return out;
}

}  // namespace tether::tokenizer
