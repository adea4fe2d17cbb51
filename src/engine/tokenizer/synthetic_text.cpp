#include "engine/tokenizer/synthetic_text.h"

#include <array>
#include <string_view>

#include <fmt/format.h>

#include "common/split_mix64.h"
#include "engine/tokenizer/unicode.h"

namespace tether::tokenizer {
namespace {

// Draws from SplitMix64, the same on every platform.
class Rng {
 public:
  explicit Rng(uint64_t seed) : mix_(seed) {}
  uint64_t next() { return mix_.next(); }
  uint32_t below(uint32_t n) { return static_cast<uint32_t>(next() % n); }
  bool chance(uint32_t percent) { return below(100) < percent; }

 private:
  SplitMix64 mix_;
};

constexpr std::array<std::string_view, 20> kOnsets = {"b",  "c",  "d",  "f",  "g",  "h",  "k",
                                                      "l",  "m",  "n",  "p",  "r",  "s",  "t",
                                                      "v",  "w",  "st", "tr", "ch", "th"};
constexpr std::array<std::string_view, 8> kVowels = {"a", "e", "i", "o", "u", "ea", "ou", "y"};
constexpr std::array<std::string_view, 10> kCodas = {"", "", "", "n", "r", "s", "t", "ng", "ck", "ll"};
constexpr std::array<std::string_view, 14> kAccented = {"á", "é", "í", "ó", "ú", "ü", "ñ",
                                                        "ç", "ø", "å", "ß", "è", "ô", "ä"};
constexpr std::array<std::string_view, 6> kContractions = {"'s", "'re", "'ve", "'ll", "'d", "n't"};
constexpr std::array<std::string_view, 8> kCodeKeywords = {"if", "for", "return", "while",
                                                           "const", "auto", "def", "let"};
constexpr std::array<std::string_view, 10> kOperators = {" = ", " + ", " * ", " >= ", " != ",
                                                         " && ", " -> ", " << ", " / ", " % "};

std::string word(Rng& rng, bool accented) {
  std::string out;
  const uint32_t syllables = 1 + rng.below(3);
  for (uint32_t i = 0; i < syllables; ++i) {
    out += kOnsets[rng.below(kOnsets.size())];
    out += accented && rng.chance(40) ? kAccented[rng.below(kAccented.size())]
                                      : kVowels[rng.below(kVowels.size())];
    out += kCodas[rng.below(kCodas.size())];
  }
  return out;
}

void append_codepoints(std::string& out, Rng& rng, uint32_t first, uint32_t count, uint32_t n) {
  for (uint32_t i = 0; i < n; ++i) unicode::append_utf8(out, first + rng.below(count));
}

void prose_line(std::string& out, Rng& rng, bool accented) {
  const uint32_t sentences = 1 + rng.below(4);
  for (uint32_t s = 0; s < sentences; ++s) {
    const uint32_t words = 4 + rng.below(12);
    for (uint32_t w = 0; w < words; ++w) {
      std::string next = word(rng, accented);
      if (w == 0 && next[0] >= 'a' && next[0] <= 'z') next[0] = static_cast<char>(next[0] - 32);
      if (rng.chance(6)) next += kContractions[rng.below(kContractions.size())];
      if (rng.chance(5)) next = fmt::format("{}", rng.below(100000));
      if (rng.chance(2)) next = fmt::format("{}.{}", rng.below(1000), rng.below(100));
      if (rng.chance(2)) next = "(" + next + ")";
      if (rng.chance(2)) next = "\"" + next + "\"";
      if (rng.chance(2)) {
        std::string emoji;
        append_codepoints(emoji, rng, 0x1F600, 0x50, 1);
        next += " " + emoji;
      }
      out += next;
      if (w + 1 < words) out += rng.chance(8) ? ", " : (rng.chance(2) ? "  " : " ");
    }
    static constexpr std::array<std::string_view, 5> kEnds = {". ", ". ", "? ", "! ", "... "};
    out += kEnds[rng.below(kEnds.size())];
  }
  out += "\n";
}

void code_line(std::string& out, Rng& rng) {
  out.append(2 * rng.below(5), ' ');
  if (rng.chance(10)) out += "\t";
  switch (rng.below(5)) {
    case 0:
      out += fmt::format("{} ({}_{}{}{}) {{", kCodeKeywords[rng.below(kCodeKeywords.size())],
                         word(rng, false), rng.below(10), kOperators[rng.below(kOperators.size())],
                         rng.below(4096));
      break;
    case 1:
      out += fmt::format("{}.{}({}, 0x{:X});", word(rng, false), word(rng, false), word(rng, false),
                         rng.below(65536));
      break;
    case 2: out += "}"; break;
    case 3: out += fmt::format("# {} {} {}", word(rng, false), word(rng, false), word(rng, false)); break;
    default:
      out += fmt::format("{}_{} = [{}, {}, {}]  // {}", word(rng, false), word(rng, false),
                         rng.below(100), rng.below(100), rng.below(100), word(rng, false));
  }
  out += "\n";
}

void cjk_line(std::string& out, Rng& rng) {
  const uint32_t phrases = 1 + rng.below(4);
  for (uint32_t i = 0; i < phrases; ++i) {
    append_codepoints(out, rng, 0x4E00, 3000, 2 + rng.below(8));
    if (rng.chance(30)) append_codepoints(out, rng, 0x3041, 0x53, 1 + rng.below(4));
    out += rng.chance(50) ? "，" : "。";
  }
  out += "\n";
}

void cyrillic_line(std::string& out, Rng& rng) {
  const uint32_t words = 3 + rng.below(8);
  for (uint32_t i = 0; i < words; ++i) {
    append_codepoints(out, rng, 0x0430, 32, 2 + rng.below(7));
    out += i + 1 < words ? " " : ".\n";
  }
}

}  // namespace

std::string generate_synthetic_text(size_t n_bytes, uint64_t seed) {
  Rng rng(seed);
  std::string out;
  out.reserve(n_bytes + 512);
  while (out.size() < n_bytes) {
    const uint32_t kind = rng.below(100);
    if (kind < 55) {
      prose_line(out, rng, false);
    } else if (kind < 70) {
      code_line(out, rng);
    } else if (kind < 80) {
      prose_line(out, rng, true);
    } else if (kind < 88) {
      cjk_line(out, rng);
    } else if (kind < 94) {
      cyrillic_line(out, rng);
    } else if (kind < 97) {
      out += "\n";
    } else {
      out += "✅ 🚀 ---- ==== **** 1,234,567 3.14159 ~~~\n";
    }
  }
  return out;
}

}  // namespace tether::tokenizer
