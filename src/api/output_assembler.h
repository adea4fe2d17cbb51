#pragma once

#include <optional>
#include <string_view>
#include <vector>

#include "api/chat_response.h"
#include "chat/tool_call_format.h"
#include "chat/tool_call_parser.h"

namespace tether::api {

// Whether (and in which family's syntax) to read tool calls out of the output.
struct ToolParsing {
  bool enabled = false;
  chat::ToolCallFormat format = chat::ToolCallFormat::kHermes;
};

// Turns the generated text, as it streams, into content and tool calls:
// with tool parsing off every piece is content; on, a ToolCallParser splits
// them. feed() and finish() return the events to stream, in order; the
// whole output accumulates for the final answer.
class OutputAssembler {
 public:
  explicit OutputAssembler(const ToolParsing& parsing);

  std::vector<chat::ToolCallEvent> feed(std::string_view text);
  std::vector<chat::ToolCallEvent> finish();
  // Content and tool calls so far (complete after finish()).
  CompletionOutput take_output() { return std::move(output_); }

 private:
  void record(const std::vector<chat::ToolCallEvent>& events);

  std::optional<chat::ToolCallParser> parser_;
  CompletionOutput output_;
};

}  // namespace tether::api
