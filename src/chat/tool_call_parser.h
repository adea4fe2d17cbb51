#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "chat/tool_call.h"
#include "chat/tool_call_format.h"
#include "chat/tool_call_id_generator.h"
#include "chat/tool_call_json_scanner.h"

namespace tether::chat {

class ToolCallSyntax;

// One step of a streamed parse, in the order a client should see them.
struct ToolCallEvent {
  enum class Kind {
    kContent,    // `text` is more text outside calls
    kCallBegin,  // call number `index` starts: `id`, `name`
    kArguments,  // `text` is more of call `index`'s arguments JSON
    kCallEnd,    // call `index` is complete
  };
  Kind kind = Kind::kContent;
  int index = -1;
  std::string text;
  std::string id;
  std::string name;

  bool operator==(const ToolCallEvent&) const = default;
};

// Splits a model's output into content and tool calls as it is generated.
// Feed it the text pieces in order, then call finish(). It holds back text
// that may still turn into a call (a marker's first bytes, a call whose
// name has not arrived) and releases it as content once it cannot. A call
// starts (kCallBegin) once its name is known and its arguments' opening
// brace has arrived; from then on the arguments stream as they come, each
// byte checked to keep them a valid JSON prefix. A block that turns out not
// to be a call before that point is released as content, so no text is
// lost. Every decision depends on the bytes alone, never on where the
// pieces were cut, so any split of the same text yields the same result.
class ToolCallParser {
 public:
  explicit ToolCallParser(ToolCallFormat format, ToolCallIdGenerator ids = ToolCallIdGenerator());
  ~ToolCallParser();
  ToolCallParser(ToolCallParser&&) noexcept;
  ToolCallParser& operator=(ToolCallParser&&) noexcept;

  ToolCallFormat format() const { return format_; }

  // Throws Error(kInvalidArgument) after finish().
  std::vector<ToolCallEvent> feed(std::string_view piece);
  // The output is complete: releases whatever was held back. A call cut off
  // inside its arguments (max_tokens) ends with the arguments it has.
  std::vector<ToolCallEvent> finish();

  // Bounds on what may be held back before it is given up as content.
  static constexpr size_t kMaxHeaderBytes = 4096;
  static constexpr size_t kMaxWholeValueBytes = 1 << 20;

 private:
  enum class Mode { kContent, kHeader, kArguments, kWholeValue, kTrailer };

  void run();
  bool step_content();
  bool step_header();
  bool step_arguments();
  bool step_whole_value();
  bool step_trailer();

  void open_block(size_t block_start, size_t header_start);
  void fail_block();
  void after_calls();
  void emit_content(std::string_view text);
  void begin_call(std::string name, std::string id);
  void emit_arguments(std::string_view text);
  void end_call();
  void compact();

  ToolCallFormat format_;
  std::unique_ptr<const ToolCallSyntax> syntax_;
  ToolCallIdGenerator ids_;
  std::vector<ToolCallEvent> events_;

  std::string buffer_;  // text not yet released, from some position on
  size_t pos_ = 0;      // first byte not yet consumed
  size_t block_start_ = 0;   // where the current block's marker began
  size_t header_start_ = 0;  // where the current call's header begins
  size_t value_start_ = 0;   // where a whole value begins
  size_t scan_pos_ = 0;      // how far the scanner has read a whole value
  Mode mode_ = Mode::kContent;
  int variant_ = 0;
  bool first_in_block_ = true;
  bool hold_space_ = false;        // whitespace here is held back
  bool after_call_ = false;        // ... because a call just ended (dropped if nothing follows)
  bool at_message_start_ = true;   // nothing but whitespace released yet
  bool eof_ = false;
  bool finished_ = false;
  int call_count_ = 0;
  ToolCallJsonScanner scanner_;
};

// Folds one event into a result (what a client does with the stream).
void apply_tool_call_event(ParsedToolCalls& result, const ToolCallEvent& event);

// The one-shot parse: the streaming parser fed the whole text at once.
ParsedToolCalls parse_tool_calls(ToolCallFormat format, std::string_view text,
                                 ToolCallIdGenerator ids = ToolCallIdGenerator());

}  // namespace tether::chat
