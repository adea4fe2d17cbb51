#include "engine/tokenizer/builtin_vocab.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <algorithm>
#include <array>
#include <map>
#include <memory>

#include "common/error.h"
#include "engine/tokenizer/bpe_trainer.h"
#include "engine/tokenizer/builtin_vocab_corpus.h"

namespace tether::tokenizer {
namespace {

// The qwen2 split: like GPT-4's cl100k pattern but with single digits, so
// numbers are spelled digit by digit and no merge ever spans two digits.
constexpr std::string_view kQwen2Pattern =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// tether's ChatML template (rendered by src/jinja): system, user and
// assistant turns in <|im_start|>/<|im_end|>; tools offered Hermes-style as
// JSON signatures in <tools>, calls as <tool_call> JSON, tool results as
// <tool_response> inside one user turn per run of tool messages.
constexpr std::string_view kChatMlTemplate = R"TEMPLATE({%- set ns = namespace(system='', start=0) -%}
{%- if messages and messages[0].role == 'system' -%}
  {%- set ns.system = messages[0].content if messages[0].content is string else '' -%}
  {%- set ns.start = 1 -%}
{%- endif -%}
{%- if tools or ns.start == 1 -%}
  {{- '<|im_start|>system\n' ~ ns.system -}}
  {%- if tools -%}
    {{- ('\n\n' if ns.system else '') ~ '# Tools\n\nYou may call the functions whose JSON signatures are listed in <tools></tools>:\n<tools>' -}}
    {%- for tool in tools -%}
      {{- '\n' ~ (tool | tojson) -}}
    {%- endfor -%}
    {{- '\n</tools>\n\nTo call a function, reply with one JSON object per call, each inside <tool_call></tool_call> tags:\n<tool_call>\n{"name": <function-name>, "arguments": <arguments-object>}\n</tool_call>' -}}
  {%- endif -%}
  {{- '<|im_end|>\n' -}}
{%- endif -%}
{%- for message in messages[ns.start:] -%}
  {%- if message.role == 'tool' -%}
    {%- if loop.first or loop.previtem.role != 'tool' -%}
      {{- '<|im_start|>user' -}}
    {%- endif -%}
    {{- '\n<tool_response>\n' ~ (message.content if message.content is string else message.content | tojson) ~ '\n</tool_response>' -}}
    {%- if loop.last or loop.nextitem.role != 'tool' -%}
      {{- '<|im_end|>\n' -}}
    {%- endif -%}
  {%- else -%}
    {{- '<|im_start|>' ~ message.role ~ '\n' -}}
    {%- if message.content is string -%}
      {{- message.content -}}
    {%- elif message.content is iterable and message.content is not mapping -%}
      {%- for part in message.content -%}
        {%- if part.type == 'text' -%}
          {{- part.text -}}
        {%- endif -%}
      {%- endfor -%}
    {%- endif -%}
    {%- if message.role == 'assistant' and message.tool_calls -%}
      {%- for call in message.tool_calls -%}
        {%- set fn = call.function if call.function is defined else call -%}
        {{- ('\n' if message.content or not loop.first else '') ~ '<tool_call>\n{"name": ' ~ (fn.name | tojson) ~ ', "arguments": ' ~ (fn.arguments if fn.arguments is string else fn.arguments | tojson) ~ '}\n</tool_call>' -}}
      {%- endfor -%}
    {%- endif -%}
    {{- '<|im_end|>\n' -}}
  {%- endif -%}
{%- endfor -%}
{%- if add_generation_prompt -%}
  {{- '<|im_start|>assistant\n' -}}
{%- endif -%})TEMPLATE";

void append_utf8(std::string& out, uint32_t code_point) {
  if (code_point < 0x80) {
    out.push_back(static_cast<char>(code_point));
  } else if (code_point < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (code_point >> 6)));
    out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xE0 | (code_point >> 12)));
    out.push_back(static_cast<char>(0x80 | ((code_point >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  }
}

// Code point standing for each byte in GPT-2's byte-level spelling.
const std::array<uint32_t, 256>& byte_code_points() {
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> points{};
    auto printable = [](int byte) {
      return (byte >= '!' && byte <= '~') || (byte >= 0xA1 && byte <= 0xAC) ||
             (byte >= 0xAE && byte <= 0xFF);
    };
    uint32_t next_unused = 256;
    for (int byte = 0; byte < 256; ++byte) {
      points[byte] = printable(byte) ? static_cast<uint32_t>(byte) : next_unused++;
    }
    return points;
  }();
  return table;
}

std::string spell_bytes(std::string_view bytes) {
  std::string out;
  for (unsigned char byte : bytes) append_utf8(out, byte_code_points()[byte]);
  return out;
}

struct CodeDeleter {
  void operator()(pcre2_code* code) const { pcre2_code_free(code); }
};
struct MatchDataDeleter {
  void operator()(pcre2_match_data* data) const { pcre2_match_data_free(data); }
};

const pcre2_code* qwen2_regex() {
  static const std::unique_ptr<pcre2_code, CodeDeleter> code = [] {
    int error_code = 0;
    PCRE2_SIZE error_offset = 0;
    pcre2_code* compiled = pcre2_compile(
        reinterpret_cast<PCRE2_SPTR>(kQwen2Pattern.data()), kQwen2Pattern.size(),
        PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &error_code, &error_offset, nullptr);
    if (compiled == nullptr) {
      PCRE2_UCHAR message[256];
      pcre2_get_error_message(error_code, message, sizeof(message));
      throw_error(ErrorCode::kInternal, "qwen2 split pattern does not compile at {}: {}",
                  error_offset, reinterpret_cast<const char*>(message));
    }
    pcre2_jit_compile(compiled, PCRE2_JIT_COMPLETE);  // falls back to the interpreter if absent
    return std::unique_ptr<pcre2_code, CodeDeleter>(compiled);
  }();
  return code.get();
}

}  // namespace

std::string byte_to_unicode(uint8_t byte) {
  std::string out;
  append_utf8(out, byte_code_points()[byte]);
  return out;
}

std::vector<std::string> pre_tokenize_qwen2(std::string_view text) {
  std::vector<std::string> pieces;
  const pcre2_code* regex = qwen2_regex();
  std::unique_ptr<pcre2_match_data, MatchDataDeleter> match(
      pcre2_match_data_create_from_pattern(regex, nullptr));
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  size_t offset = 0;
  while (offset < text.size()) {
    int rc = pcre2_match(regex, subject, text.size(), offset, 0, match.get(), nullptr);
    if (rc < 0) {
      // No match in the rest (only invalid UTF-8 can cause this): keep it whole.
      pieces.emplace_back(text.substr(offset));
      break;
    }
    const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(match.get());
    size_t start = ovector[0];
    size_t end = ovector[1];
    if (start > offset) pieces.emplace_back(text.substr(offset, start - offset));
    if (end <= start) {  // cannot happen with this pattern; never loop forever
      pieces.emplace_back(text.substr(start, 1));
      end = start + 1;
    } else {
      pieces.emplace_back(text.substr(start, end - start));
    }
    offset = end;
  }
  return pieces;
}

BuiltinVocab build_builtin_vocab(size_t vocab_size) {
  if (vocab_size < kBuiltinVocabMinSize) {
    throw_error(ErrorCode::kInvalidArgument,
                "vocabulary size {} is too small: the built-in vocabulary needs at least {} "
                "(256 bytes and {} special tokens)",
                vocab_size, kBuiltinVocabMinSize, kBuiltinVocabSpecialCount);
  }
  if (vocab_size > (size_t{1} << 31) - 1) {
    throw_error(ErrorCode::kInvalidArgument, "vocabulary size {} does not fit token ids",
                vocab_size);
  }

  std::map<std::string, uint64_t> counts;  // ordered: training input is deterministic
  for (auto& piece : pre_tokenize_qwen2(builtin_vocab_corpus())) ++counts[std::move(piece)];
  std::vector<BpeTrainer::WordCount> words;
  words.reserve(counts.size());
  for (auto& [bytes, count] : counts) words.push_back({bytes, count});

  // Pairs seen once come last (the heap orders by count), so they only add
  // whole rare words after every pattern that repeats has been learned.
  constexpr uint64_t kMinPairCount = 1;
  BpeModel model =
      BpeTrainer(std::move(words)).train(vocab_size - kBuiltinVocabSpecialCount, kMinPairCount);

  BuiltinVocab vocab;
  vocab.tokens.reserve(vocab_size);
  for (const auto& bytes : model.token_bytes) vocab.tokens.push_back(spell_bytes(bytes));
  vocab.token_types.assign(vocab.tokens.size(), static_cast<int32_t>(BuiltinTokenType::kNormal));
  vocab.learned_tokens = model.token_bytes.size() - 256;
  vocab.merges.reserve(model.merges.size());
  for (const auto& merge : model.merges) {
    vocab.merges.push_back(vocab.tokens[merge.left] + " " + vocab.tokens[merge.right]);
  }

  auto add_control = [&vocab](std::string text) {
    vocab.tokens.push_back(std::move(text));
    vocab.token_types.push_back(static_cast<int32_t>(BuiltinTokenType::kControl));
    return static_cast<int32_t>(vocab.tokens.size() - 1);
  };
  vocab.endoftext_id = add_control("<|endoftext|>");
  vocab.im_start_id = add_control("<|im_start|>");
  vocab.im_end_id = add_control("<|im_end|>");
  while (vocab.tokens.size() < vocab_size) {
    add_control("<|reserved_" + std::to_string(vocab.reserved_tokens++) + "|>");
  }
  return vocab;
}

std::string_view chatml_chat_template() { return kChatMlTemplate; }

}  // namespace tether::tokenizer
