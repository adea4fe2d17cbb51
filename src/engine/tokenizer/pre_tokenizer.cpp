#include "engine/tokenizer/pre_tokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <utility>

#include "common/error.h"

namespace tether::tokenizer {
namespace {

// The GPT-2 pattern. Its usual trailing `|\s+` is redundant here: a lone
// whitespace it would catch is kept anyway as an unmatched run.
constexpr const char* kGpt2 =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S))";

// Llama 3 / Qwen 2 patterns; `(?i:'s|...)` is spelled out case by case so that
// Unicode case folding (e.g. U+017F matching "s") cannot creep in.
constexpr const char* kContractions =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD]))";
const std::string kLlama3 = std::string(kContractions) +
    R"(|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
const std::string kQwen2 = std::string(kContractions) +
    R"(|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// DeepSeek LLM's cased-letter class (Lu/Ll/Lt as of its tokenizer.json),
// written with escapes so the source stays ASCII and no editor can normalize it.
constexpr const char* kDeepseekLetters =
    R"(\s?[A-Za-z\x{B5}\x{C0}-\x{D6}\x{D8}-\x{F6}\x{F8}-\x{1BA}\x{1BC}-\x{1BF}\x{1C4}-\x{293})"
    R"(\x{295}-\x{2AF}\x{370}-\x{373}\x{376}\x{377}\x{37B}-\x{37D}\x{37F}\x{386}\x{388}-\x{38A})"
    R"(\x{38C}\x{38E}-\x{3A1}\x{3A3}-\x{3F5}\x{3F7}-\x{481}\x{48A}-\x{52F}\x{531}-\x{556})"
    R"(\x{10A0}-\x{10C5}\x{13A0}-\x{13F5}\x{13F8}-\x{13FD}\x{1C90}-\x{1CBA}\x{1CBD}-\x{1CBF})"
    R"(\x{1D00}-\x{1D2B}\x{1D6B}-\x{1D77}\x{1D79}-\x{1D9A}\x{1E00}-\x{1F15}\x{1F18}-\x{1F1D})"
    R"(\x{1F20}-\x{1F45}\x{1F48}-\x{1F4D}\x{1F50}-\x{1F57}\x{1F59}\x{1F5B}\x{1F5D}\x{1F5F}-\x{1F7D})"
    R"(\x{1F80}-\x{1FB4}\x{1FB6}-\x{1FBC}\x{1FBE}\x{1FC2}-\x{1FC4}\x{1FC6}-\x{1FCC}\x{1FD0}-\x{1FD3})"
    R"(\x{1FD6}-\x{1FDB}\x{1FE0}-\x{1FEC}\x{1FF2}-\x{1FF4}\x{1FF6}-\x{1FFC}\x{2102}\x{2107})"
    R"(\x{210A}-\x{2113}\x{2115}\x{2119}-\x{211D}\x{2124}\x{2126}\x{2128}\x{212A}-\x{212D})"
    R"(\x{212F}-\x{2134}\x{2139}\x{213C}-\x{213F}\x{2145}-\x{2149}\x{214E}\x{2183}\x{2184})"
    R"(\x{2C00}-\x{2C7B}\x{2C7E}-\x{2CE4}\x{2CEB}-\x{2CEE}\x{2CF2}\x{2CF3}\x{A640}-\x{A66D})"
    R"(\x{A680}-\x{A69B}\x{A722}-\x{A76F}\x{A771}-\x{A787}\x{A78B}-\x{A78E}\x{AB70}-\x{ABBF})"
    R"(\x{FB00}-\x{FB06}\x{FB13}-\x{FB17}\x{FF21}-\x{FF3A}\x{FF41}-\x{FF5A}\x{10400}-\x{1044F})"
    R"(\x{104B0}-\x{104D3}\x{104D8}-\x{104FB}\x{10C80}-\x{10CB2}\x{10CC0}-\x{10CF2})"
    R"(\x{118A0}-\x{118DF}\x{1E900}-\x{1E943}]+)";
constexpr const char* kDeepseekPunct =
    R"(\s?[!-/:-~\x{FF01}-\x{FF0F}\x{FF1A}-\x{FF5E}\x{2018}-\x{201F}\x{3000}-\x{3002}]+)";
// CJK ideographs, then everything from U+0800 up to them, then Hangul.
constexpr const char* kDeepseekCjk = R"([\x{4E00}-\x{9FA5}\x{800}-\x{4E00}\x{AC00}-\x{D7FF}]+)";

struct PreTypeDef {
  std::vector<const char*> names;
  std::vector<std::string> patterns;
  bool ignore_merges = false;
  bool adds_bos = false;
};

const std::vector<PreTypeDef>& pre_type_table() {
  static const std::vector<PreTypeDef> table = {
      {{"default"},
       {R"([\p{P}\$\+<=>\^~\|]+)", kGpt2, R"(\p{N}+)", R"([0-9][0-9][0-9])"}},
      {{"gpt-2", "gpt2", "phi-2", "mpt", "olmo", "jais", "roberta-bpe"}, {kGpt2}},
      {{"llama3", "llama-v3", "llama-bpe", "falcon3", "pixtral"}, {kLlama3}, true, true},
      {{"dbrx", "smaug-bpe"}, {kLlama3}},
      {{"qwen2", "deepseek-r1-qwen", "stablelm2", "megrez"}, {kQwen2}},
      {{"deepseek-llm"},
       {"[\r\n]", kDeepseekLetters, kDeepseekPunct, R"(\s+$)", kDeepseekCjk, R"(\p{N}+)"}},
      {{"deepseek-coder"},
       {"[\r\n]", R"(\s?\p{L}+)", R"(\s?\p{P}+)", kDeepseekCjk, R"(\p{N})"}},
      {{"falcon"}, {R"([\p{P}\$\+<=>\^~\|`]+)", kGpt2, R"([0-9][0-9][0-9])"}},
      {{"starcoder", "refact", "command-r", "smollm", "codeshell", "exaone", "minerva-7b"},
       {R"(\p{N})", kGpt2}},
  };
  return table;
}

std::string pcre2_message(int error_code) {
  PCRE2_UCHAR buffer[256];
  if (pcre2_get_error_message(error_code, buffer, sizeof(buffer)) < 0) return "unknown error";
  return reinterpret_cast<const char*>(buffer);
}

struct MatchDataDeleter {
  void operator()(pcre2_match_data* data) const { pcre2_match_data_free(data); }
};

}  // namespace

// One compiled pattern. The compiled code is immutable and shared by threads;
// match data is per call.
class PreTokenizer::Regex {
 public:
  explicit Regex(const std::string& pattern) : pattern_(pattern) {
    int error_code = 0;
    PCRE2_SIZE error_offset = 0;
    code_ = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                          PCRE2_UTF | PCRE2_UCP | PCRE2_DOLLAR_ENDONLY, &error_code,
                          &error_offset, nullptr);
    if (code_ == nullptr) {
      throw_error(ErrorCode::kInvalidArgument, "pre-tokenizer regex '{}' is invalid at offset {}: {}",
                  pattern, error_offset, pcre2_message(error_code));
    }
    // JIT is an optimization only; without it the interpreter runs the same pattern.
    pcre2_jit_compile(code_, PCRE2_JIT_COMPLETE);
  }
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;
  ~Regex() { pcre2_code_free(code_); }

  // The first match in subject[start..]; false when there is none.
  bool find(std::string_view subject, size_t start, pcre2_match_data* match_data,
            size_t* match_begin, size_t* match_end) const {
    const auto* bytes = reinterpret_cast<PCRE2_SPTR>(subject.data());
    int rc = pcre2_match(code_, bytes, subject.size(), start, PCRE2_NO_UTF_CHECK, match_data,
                         nullptr);
    if (rc == PCRE2_ERROR_JIT_STACKLIMIT) {
      // Very long runs can exhaust the JIT's small stack; the interpreter
      // keeps its backtracking state on the heap.
      rc = pcre2_match(code_, bytes, subject.size(), start, PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT,
                       match_data, nullptr);
    }
    if (rc == PCRE2_ERROR_NOMATCH) return false;
    if (rc < 0) {
      throw_error(ErrorCode::kInvalidArgument, "pre-tokenizer regex '{}' failed on the input: {}",
                  pattern_, pcre2_message(rc));
    }
    // rc == 0 only says the ovector had no room for groups; group 0 is there.
    const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(match_data);
    *match_begin = ovector[0];
    *match_end = ovector[1];
    return true;
  }

 private:
  std::string pattern_;
  pcre2_code* code_ = nullptr;
};

PreTokenizer::PreTokenizer(PreTokenizer&&) noexcept = default;
PreTokenizer& PreTokenizer::operator=(PreTokenizer&&) noexcept = default;
PreTokenizer::~PreTokenizer() = default;

PreTokenizer PreTokenizer::for_type(std::string_view pre_type) {
  for (const PreTypeDef& def : pre_type_table()) {
    for (const char* name : def.names) {
      if (pre_type == name) {
        PreTokenizer result = from_patterns(std::string(pre_type), def.patterns);
        result.ignore_merges_ = def.ignore_merges;
        return result;
      }
    }
  }
  throw_error(ErrorCode::kUnsupported, "unknown pre-tokenizer type '{}' (tokenizer.ggml.pre)",
              pre_type);
}

PreTokenizer PreTokenizer::from_patterns(std::string name, std::vector<std::string> patterns) {
  PreTokenizer result;
  result.name_ = std::move(name);
  for (const std::string& pattern : patterns) {
    result.regexes_.push_back(std::make_unique<Regex>(pattern));
  }
  return result;
}

namespace {
const PreTypeDef* find_pre_type(std::string_view pre_type) {
  for (const PreTypeDef& def : pre_type_table()) {
    for (const char* name : def.names) {
      if (pre_type == name) return &def;
    }
  }
  return nullptr;
}
}  // namespace

bool PreTokenizer::is_known_type(std::string_view pre_type) {
  return find_pre_type(pre_type) != nullptr;
}

bool PreTokenizer::type_adds_bos(std::string_view pre_type) {
  const PreTypeDef* def = find_pre_type(pre_type);
  return def != nullptr && def->adds_bos;
}

std::vector<std::string> PreTokenizer::known_types() {
  std::vector<std::string> names;
  for (const PreTypeDef& def : pre_type_table()) {
    for (const char* name : def.names) names.emplace_back(name);
  }
  return names;
}

std::vector<std::string_view> PreTokenizer::split(std::string_view text) const {
  struct Span {
    size_t begin;
    size_t length;
  };
  std::vector<Span> spans;
  if (!text.empty()) spans.push_back({0, text.size()});
  std::vector<Span> next;
  std::unique_ptr<pcre2_match_data, MatchDataDeleter> match_data(
      pcre2_match_data_create(1, nullptr));
  if (!match_data) throw std::bad_alloc();

  for (const auto& regex : regexes_) {
    next.clear();
    next.reserve(spans.size() * 2);
    for (const Span& span : spans) {
      const std::string_view fragment = text.substr(span.begin, span.length);
      size_t start = 0;
      size_t gap_begin = 0;
      while (start < fragment.size()) {
        size_t match_begin = 0;
        size_t match_end = 0;
        if (!regex->find(fragment, start, match_data.get(), &match_begin, &match_end)) break;
        if (match_end == match_begin) {
          // None of our patterns can match empty; if a custom one does, step
          // over one character rather than loop.
          start = match_begin + 1;
          while (start < fragment.size() && (static_cast<uint8_t>(fragment[start]) & 0xC0) == 0x80) {
            ++start;
          }
          continue;
        }
        if (match_begin > gap_begin) next.push_back({span.begin + gap_begin, match_begin - gap_begin});
        next.push_back({span.begin + match_begin, match_end - match_begin});
        gap_begin = match_end;
        start = match_end;
      }
      if (gap_begin < fragment.size()) {
        next.push_back({span.begin + gap_begin, fragment.size() - gap_begin});
      }
    }
    spans.swap(next);
  }

  std::vector<std::string_view> words;
  words.reserve(spans.size());
  for (const Span& span : spans) words.push_back(text.substr(span.begin, span.length));
  return words;
}

}  // namespace tether::tokenizer
