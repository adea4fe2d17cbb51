#include <iostream>
#include <iterator>
#include <memory>
#include <string>

#include <fmt/format.h>

#include "cli/commands.h"
#include "common/error.h"
#include "engine/gguf/gguf_file.h"
#include "engine/model/demo_model.h"
#include "engine/tokenizer/tokenizer.h"
#include "engine/tokenizer/unicode.h"

namespace tether::cli {
namespace {

struct TokenizeOptions {
  std::string model_path;
  std::string text;
  bool parse_special = false;
  bool no_bos = false;
  bool json = false;
};

// A piece for a terminal: printable text as is, control bytes and bytes that
// are not (yet) valid UTF-8 as escapes, so every token stays on its line.
std::string display_piece(std::string_view piece) {
  std::string out;
  size_t pos = 0;
  while (pos < piece.size()) {
    const auto byte = static_cast<uint8_t>(piece[pos]);
    uint32_t codepoint = 0;
    const size_t length = byte < 0x80 ? 1 : tokenizer::unicode::decode_one(piece, pos, &codepoint);
    if (byte < 0x80) {
      switch (byte) {
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        case '\\': out += "\\\\"; break;
        default:
          if (byte < 0x20 || byte == 0x7F) {
            out += fmt::format("\\x{:02x}", byte);
          } else {
            out.push_back(static_cast<char>(byte));
          }
      }
      ++pos;
    } else if (length == 0) {
      out += fmt::format("\\x{:02x}", byte);
      ++pos;
    } else {
      out.append(piece.substr(pos, length));
      pos += length;
    }
  }
  return out;
}

// A JSON string literal; invalid UTF-8 becomes U+FFFD so the output parses.
std::string json_string(std::string_view text) {
  const std::string valid = tokenizer::unicode::sanitize_utf8(text);
  std::string out = "\"";
  for (char c : valid) {
    const auto byte = static_cast<uint8_t>(c);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (byte < 0x20) {
          out += fmt::format("\\u{:04x}", byte);
        } else {
          out.push_back(c);
        }
    }
  }
  out += "\"";
  return out;
}

void run_tokenize(const TokenizeOptions& options) {
  std::string text = options.text;
  if (text == "-") {
    text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  }
  const gguf::GgufFile file = gguf::GgufFile::open(model::resolve_model_path(options.model_path));
  const tokenizer::Tokenizer tok = tokenizer::Tokenizer::from_gguf(file);
  const std::vector<tokenizer::TokenId> ids =
      tok.encode(text, {.add_special = !options.no_bos, .parse_special = options.parse_special});

  if (options.json) {
    std::string ids_json;
    std::string pieces_json;
    for (size_t i = 0; i < ids.size(); ++i) {
      if (i > 0) {
        ids_json += ",";
        pieces_json += ",";
      }
      ids_json += std::to_string(ids[i]);
      pieces_json += json_string(tok.token_to_piece(ids[i], /*render_special=*/true));
    }
    fmt::print("{{\"ids\":[{}],\"pieces\":[{}],\"count\":{}}}\n", ids_json, pieces_json, ids.size());
    return;
  }
  for (const tokenizer::TokenId id : ids) {
    fmt::print("{:>8}  '{}'\n", id, display_piece(tok.token_to_piece(id, /*render_special=*/true)));
  }
  fmt::print("{} tokens\n", ids.size());
}

}  // namespace

void add_tokenize_command(CLI::App& app, CommandResult& result) {
  auto options = std::make_shared<TokenizeOptions>();
  CLI::App* command = app.add_subcommand(
      "tokenize", "Tokenize text with a GGUF file's tokenizer and print ids and pieces");
  command->add_option("--model,-m", options->model_path, "GGUF file (a model or a vocab-only file), or \"demo\"")
      ->required();
  command->add_option("text", options->text, "The text to tokenize ('-' reads standard input)")
      ->required();
  command->add_flag("--special", options->parse_special,
                    "Match control-token texts (e.g. <|im_start|>) in the text");
  command->add_flag("--no-bos", options->no_bos, "Do not add the BOS/EOS tokens the model adds");
  command->add_flag("--json", options->json, "Print {\"ids\":[...],\"pieces\":[...],\"count\":N}");
  command->callback([options, &result] {
    run_tokenize(*options);
    result.exit_code = 0;
  });
}

}  // namespace tether::cli
