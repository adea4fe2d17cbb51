#include "chat/tool_call_syntax.h"

#include <boost/json.hpp>

#include "chat/tool_call_json_scanner.h"

namespace tether::chat {
namespace {

namespace json = boost::json;
using Header = ToolCallHeaderStep;
using Trailer = ToolCallTrailerStep;

enum class Match { kIncomplete, kMismatch, kMatch };

// Bounds on the small pieces of syntax a header holds back.
constexpr size_t kMaxNameBytes = 256;
constexpr size_t kMaxTrailerBytes = 64 * 1024;

bool is_space(char byte) { return byte == ' ' || byte == '\t' || byte == '\n' || byte == '\r'; }

bool is_name_byte(char byte) {
  return (byte >= 'a' && byte <= 'z') || (byte >= 'A' && byte <= 'Z') || (byte >= '0' && byte <= '9') ||
         byte == '_' || byte == '-' || byte == '.';
}

// Reads syntax off the held text; every step says whether the text so far
// matches, cannot match, or is a valid prefix that needs more bytes.
class Cursor {
 public:
  explicit Cursor(std::string_view text) : text_(text) {}

  size_t pos() const { return pos_; }
  bool at_end() const { return pos_ >= text_.size(); }
  char peek() const { return text_[pos_]; }

  void skip_space() {
    while (!at_end() && is_space(text_[pos_])) ++pos_;
  }

  Match literal(std::string_view expected) {
    const std::string_view rest = text_.substr(pos_);
    if (rest.size() < expected.size()) {
      return expected.substr(0, rest.size()) == rest ? Match::kIncomplete : Match::kMismatch;
    }
    if (rest.substr(0, expected.size()) != expected) return Match::kMismatch;
    pos_ += expected.size();
    return Match::kMatch;
  }

  // The first alternative that matches; kIncomplete while one still may.
  Match any_literal(std::initializer_list<std::string_view> alternatives, size_t* matched) {
    bool incomplete = false;
    size_t index = 0;
    for (const std::string_view expected : alternatives) {
      Cursor probe = *this;
      const Match match = probe.literal(expected);
      if (match == Match::kMatch) {
        *this = probe;
        *matched = index;
        return Match::kMatch;
      }
      incomplete = incomplete || match == Match::kIncomplete;
      ++index;
    }
    return incomplete ? Match::kIncomplete : Match::kMismatch;
  }

  Match byte(char expected) {
    if (at_end()) return Match::kIncomplete;
    if (text_[pos_] != expected) return Match::kMismatch;
    ++pos_;
    return Match::kMatch;
  }

  // A JSON string literal, decoded into `out`; bounded like a name.
  Match json_string(std::string* out) {
    if (at_end()) return Match::kIncomplete;
    if (text_[pos_] != '"') return Match::kMismatch;
    bool escape = false;
    for (size_t end = pos_ + 1; end < text_.size(); ++end) {
      if (end - pos_ > kMaxNameBytes) return Match::kMismatch;
      const char c = text_[end];
      if (escape) {
        escape = false;
      } else if (c == '\\') {
        escape = true;
      } else if (c == '"') {
        boost::system::error_code error;
        const json::value value = json::parse(text_.substr(pos_, end + 1 - pos_), error);
        if (error || !value.is_string()) return Match::kMismatch;
        *out = std::string(value.get_string());
        pos_ = end + 1;
        return Match::kMatch;
      }
    }
    return Match::kIncomplete;
  }

  // Bytes of `is_part` (at least one, at most kMaxNameBytes), ended by a
  // byte that is not; kIncomplete while the text ends inside them.
  Match token(bool (*is_part)(char), std::string* out) {
    size_t end = pos_;
    while (end < text_.size() && is_part(text_[end])) {
      if (end - pos_ >= kMaxNameBytes) return Match::kMismatch;
      ++end;
    }
    if (end == text_.size()) return Match::kIncomplete;
    if (end == pos_) return Match::kMismatch;
    *out = std::string(text_.substr(pos_, end - pos_));
    pos_ = end;
    return Match::kMatch;
  }

 private:
  std::string_view text_;
  size_t pos_ = 0;
};

Header step_of(Header::Kind kind) {
  Header step;
  step.kind = kind;
  return step;
}

Header incomplete() { return step_of(Header::Kind::kIncomplete); }
Header mismatch() { return step_of(Header::Kind::kMismatch); }
Header from_match(Match match) { return match == Match::kIncomplete ? incomplete() : mismatch(); }

Header whole_value_at(size_t pos, int variant) {
  Header step = step_of(Header::Kind::kWholeValue);
  step.consumed = pos;
  step.variant = variant;
  return step;
}

// Streamed path for {"name": "NAME", "arguments": {...}}: once the name and
// the opening brace of the arguments are in, the call can start. Anything
// else shaped like an object (keys in another order, arguments as a string)
// is read whole instead. `cursor` stands on the object's '{'.
Header json_object_call(Cursor cursor, std::initializer_list<std::string_view> argument_keys,
                        int streamed_variant, int whole_variant) {
  const size_t brace = cursor.pos();
  std::string name;
  size_t key_index = 0;
  Match match = cursor.byte('{');
  cursor.skip_space();
  if (match == Match::kMatch) match = cursor.literal("\"name\"");
  cursor.skip_space();
  if (match == Match::kMatch) match = cursor.byte(':');
  cursor.skip_space();
  if (match == Match::kMatch) match = cursor.json_string(&name);
  cursor.skip_space();
  if (match == Match::kMatch) match = cursor.byte(',');
  cursor.skip_space();
  if (match == Match::kMatch) match = cursor.any_literal(argument_keys, &key_index);
  cursor.skip_space();
  if (match == Match::kMatch) match = cursor.byte(':');
  cursor.skip_space();
  if (match == Match::kMatch) match = cursor.at_end() ? Match::kIncomplete : Match::kMatch;
  if (match == Match::kIncomplete) return incomplete();
  if (match == Match::kMismatch || cursor.peek() != '{' || name.empty()) return whole_value_at(brace, whole_variant);
  Header step = step_of(Header::Kind::kCall);
  step.consumed = cursor.pos();
  step.name = std::move(name);
  step.variant = streamed_variant;
  return step;
}

// After streamed arguments the outer object is still open: it may carry
// more members before its '}'. Returns the bytes up to and including that
// brace, or kIncomplete / kMismatch.
Match close_outer_object(std::string_view text, size_t* consumed) {
  ToolCallJsonScanner scanner;
  // Put the scanner inside an object just after a member's value.
  for (const char c : std::string_view("{\"a\":0")) scanner.feed(c);
  for (size_t pos = 0; pos < text.size(); ++pos) {
    if (pos >= kMaxTrailerBytes) return Match::kMismatch;
    const auto status = scanner.feed(text[pos]);
    if (status == ToolCallJsonScanner::Status::kError) return Match::kMismatch;
    if (status == ToolCallJsonScanner::Status::kDone) {
      *consumed = pos + 1;
      return Match::kMatch;
    }
  }
  return Match::kIncomplete;
}

// Arguments of a whole call object: an object, or a string holding one.
std::optional<std::string> arguments_text(const json::value* arguments) {
  if (arguments == nullptr) return std::string("{}");
  if (arguments->is_object()) return json::serialize(*arguments);
  if (arguments->is_string()) {
    boost::system::error_code error;
    const json::value parsed = json::parse(arguments->get_string(), error);
    if (!error && parsed.is_object()) return std::string(arguments->get_string());
  }
  return std::nullopt;
}

std::optional<ToolCallWholeValue> name_and_arguments(const json::value& value,
                                                     std::initializer_list<std::string_view> argument_keys) {
  const json::object* object = value.if_object();
  if (object == nullptr) return std::nullopt;
  const json::value* name = object->if_contains("name");
  if (name == nullptr || !name->is_string() || name->get_string().empty()) return std::nullopt;
  const json::value* arguments = nullptr;
  for (const std::string_view key : argument_keys) {
    if (arguments == nullptr) arguments = object->if_contains(key);
  }
  std::optional<std::string> text = arguments_text(arguments);
  if (!text) return std::nullopt;
  return ToolCallWholeValue{std::string(name->get_string()), "", std::move(*text)};
}

// --- Hermes / Qwen -------------------------------------------------------

constexpr int kStreamed = 0;
constexpr int kWhole = 1;

class HermesSyntax final : public ToolCallSyntax {
 public:
  const std::vector<std::string_view>& start_markers() const override { return markers_; }

  Header header(std::string_view text, bool first_in_block) const override {
    Cursor cursor(text);
    cursor.skip_space();
    if (cursor.at_end()) return incomplete();
    if (cursor.peek() != '{') return mismatch();
    return json_object_call(cursor, {"\"arguments\"", "\"parameters\""}, kStreamed, kWhole);
  }

  Trailer trailer(std::string_view text, int variant) const override {
    size_t closed = 0;
    if (variant == kStreamed) {
      const Match match = close_outer_object(text, &closed);
      if (match == Match::kIncomplete) return Trailer{Trailer::Kind::kIncomplete};
      if (match == Match::kMismatch) return Trailer{Trailer::Kind::kMismatch};
    }
    Cursor cursor(text.substr(closed));
    cursor.skip_space();
    const Match match = cursor.literal("</tool_call>");
    if (match == Match::kIncomplete) return Trailer{Trailer::Kind::kIncomplete};
    // Without its closing tag (a model that opens the next call at once)
    // the call still ends with its object.
    if (match == Match::kMismatch) return Trailer{Trailer::Kind::kContent, closed};
    return Trailer{Trailer::Kind::kContent, closed + cursor.pos()};
  }

  std::optional<ToolCallWholeValue> whole_value(const json::value& value) const override {
    return name_and_arguments(value, {"arguments", "parameters"});
  }

 private:
  std::vector<std::string_view> markers_{"<tool_call>"};
};

// --- Llama 3 JSON --------------------------------------------------------

class Llama3JsonSyntax final : public ToolCallSyntax {
 public:
  const std::vector<std::string_view>& start_markers() const override { return markers_; }
  bool opens_with_bare_json() const override { return true; }

  Header header(std::string_view text, bool first_in_block) const override {
    Cursor cursor(text);
    cursor.skip_space();
    if (cursor.at_end()) return incomplete();
    if (cursor.peek() != '{') return mismatch();
    return json_object_call(cursor, {"\"parameters\"", "\"arguments\""}, kStreamed, kWhole);
  }

  Trailer trailer(std::string_view text, int variant) const override {
    size_t closed = 0;
    if (variant == kStreamed) {
      const Match match = close_outer_object(text, &closed);
      if (match == Match::kIncomplete) return Trailer{Trailer::Kind::kIncomplete};
      if (match == Match::kMismatch) return Trailer{Trailer::Kind::kMismatch};
    }
    Cursor cursor(text.substr(closed));
    cursor.skip_space();
    if (cursor.at_end()) return Trailer{Trailer::Kind::kIncomplete};
    // Several calls in one message are separated by ';'.
    if (cursor.peek() == ';') return Trailer{Trailer::Kind::kNextCall, closed + cursor.pos() + 1};
    return Trailer{Trailer::Kind::kContent, closed};
  }

  std::optional<ToolCallWholeValue> whole_value(const json::value& value) const override {
    return name_and_arguments(value, {"parameters", "arguments"});
  }

 private:
  std::vector<std::string_view> markers_{"<|python_tag|>"};
};

// --- Mistral -------------------------------------------------------------

constexpr int kMistralArray = 0;
constexpr int kMistralNamed = 1;

bool is_id_byte(char byte) { return is_name_byte(byte) && byte != '.'; }

class MistralSyntax final : public ToolCallSyntax {
 public:
  const std::vector<std::string_view>& start_markers() const override { return markers_; }

  Header header(std::string_view text, bool first_in_block) const override {
    Cursor cursor(text);
    cursor.skip_space();
    if (cursor.at_end()) return incomplete();
    if (!first_in_block) {
      // The next element of the array.
      return cursor.peek() == '{' ? whole_value_at(cursor.pos(), kMistralArray) : mismatch();
    }
    if (cursor.peek() == '[') {
      cursor.byte('[');
      cursor.skip_space();
      if (cursor.at_end()) return incomplete();
      return cursor.peek() == '{' ? whole_value_at(cursor.pos(), kMistralArray) : mismatch();
    }
    // v11 tokenizers: NAME[ARGS]{...} or NAME[CALL_ID]ID[ARGS]{...}.
    Header step = step_of(Header::Kind::kCall);
    Match match = cursor.token(is_name_byte, &step.name);
    size_t which = 0;
    if (match == Match::kMatch) match = cursor.any_literal({"[ARGS]", "[CALL_ID]"}, &which);
    if (match == Match::kMatch && which == 1) {
      match = cursor.token(is_id_byte, &step.id);
      if (match == Match::kMatch) match = cursor.literal("[ARGS]");
    }
    if (match != Match::kMatch) return from_match(match);
    cursor.skip_space();
    if (cursor.at_end()) return incomplete();
    if (cursor.peek() != '{') return mismatch();
    step.consumed = cursor.pos();
    step.variant = kMistralNamed;
    return step;
  }

  Trailer trailer(std::string_view text, int variant) const override {
    // A named call ends with its arguments; the next one has its own marker.
    if (variant == kMistralNamed) return Trailer{Trailer::Kind::kContent, 0};
    Cursor cursor(text);
    cursor.skip_space();
    if (cursor.at_end()) return Trailer{Trailer::Kind::kIncomplete};
    if (cursor.peek() == ',') return Trailer{Trailer::Kind::kNextCall, cursor.pos() + 1};
    if (cursor.peek() == ']') return Trailer{Trailer::Kind::kContent, cursor.pos() + 1};
    return Trailer{Trailer::Kind::kMismatch};
  }

  std::optional<ToolCallWholeValue> whole_value(const json::value& value) const override {
    std::optional<ToolCallWholeValue> call = name_and_arguments(value, {"arguments", "parameters"});
    if (!call) return call;
    if (const json::value* id = value.get_object().if_contains("id")) {
      if (!id->is_string()) return std::nullopt;
      call->id = std::string(id->get_string());
    }
    return call;
  }

 private:
  std::vector<std::string_view> markers_{"[TOOL_CALLS]"};
};

// --- Kimi K2 -------------------------------------------------------------

bool is_kimi_id_byte(char byte) {
  return byte != '<' && !is_space(byte) && static_cast<unsigned char>(byte) >= 0x20;
}

// functions.get_weather:0 -> get_weather
std::string kimi_name(std::string_view id) {
  constexpr std::string_view kPrefix = "functions.";
  if (id.substr(0, kPrefix.size()) == kPrefix) id.remove_prefix(kPrefix.size());
  const size_t colon = id.rfind(':');
  if (colon != std::string_view::npos && colon + 1 < id.size() &&
      id.find_first_not_of("0123456789", colon + 1) == std::string_view::npos) {
    id = id.substr(0, colon);
  }
  return std::string(id);
}

class KimiK2Syntax final : public ToolCallSyntax {
 public:
  const std::vector<std::string_view>& start_markers() const override { return markers_; }

  Header header(std::string_view text, bool first_in_block) const override {
    Cursor cursor(text);
    cursor.skip_space();
    size_t which = 0;
    Match match = cursor.any_literal({"<|tool_call_begin|>", "<|tool_calls_section_end|>"}, &which);
    if (match != Match::kMatch) return from_match(match);
    if (which == 1) {
      Header end = step_of(Header::Kind::kEnd);
      end.consumed = cursor.pos();
      return end;
    }
    cursor.skip_space();
    Header step = step_of(Header::Kind::kCall);
    match = cursor.token(is_kimi_id_byte, &step.id);
    if (match == Match::kMatch) match = cursor.literal("<|tool_call_argument_begin|>");
    if (match != Match::kMatch) return from_match(match);
    step.name = kimi_name(step.id);
    if (step.name.empty()) return mismatch();
    cursor.skip_space();
    if (cursor.at_end()) return incomplete();
    if (cursor.peek() != '{') return mismatch();
    step.consumed = cursor.pos();
    return step;
  }

  Trailer trailer(std::string_view text, int variant) const override {
    Cursor cursor(text);
    cursor.skip_space();
    const Match match = cursor.literal("<|tool_call_end|>");
    if (match == Match::kIncomplete) return Trailer{Trailer::Kind::kIncomplete};
    if (match == Match::kMismatch) return Trailer{Trailer::Kind::kMismatch};
    return Trailer{Trailer::Kind::kNextCall, cursor.pos()};
  }

  std::optional<ToolCallWholeValue> whole_value(const json::value&) const override { return std::nullopt; }

 private:
  std::vector<std::string_view> markers_{"<|tool_calls_section_begin|>"};
};

}  // namespace

std::unique_ptr<const ToolCallSyntax> make_tool_call_syntax(ToolCallFormat format) {
  switch (format) {
    case ToolCallFormat::kHermes:
      return std::make_unique<HermesSyntax>();
    case ToolCallFormat::kLlama3Json:
      return std::make_unique<Llama3JsonSyntax>();
    case ToolCallFormat::kMistral:
      return std::make_unique<MistralSyntax>();
    case ToolCallFormat::kKimiK2:
      return std::make_unique<KimiK2Syntax>();
  }
  return std::make_unique<HermesSyntax>();
}

}  // namespace tether::chat
