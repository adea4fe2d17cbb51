#include "api/output_assembler.h"

namespace tether::api {

OutputAssembler::OutputAssembler(const ToolParsing& parsing) {
  if (parsing.enabled) parser_.emplace(parsing.format);
}

std::vector<chat::ToolCallEvent> OutputAssembler::feed(std::string_view text) {
  std::vector<chat::ToolCallEvent> events;
  if (parser_) {
    events = parser_->feed(text);
  } else if (!text.empty()) {
    chat::ToolCallEvent event;
    event.kind = chat::ToolCallEvent::Kind::kContent;
    event.text = std::string(text);
    events.push_back(std::move(event));
  }
  record(events);
  return events;
}

std::vector<chat::ToolCallEvent> OutputAssembler::finish() {
  std::vector<chat::ToolCallEvent> events;
  if (parser_) events = parser_->finish();
  record(events);
  return events;
}

void OutputAssembler::record(const std::vector<chat::ToolCallEvent>& events) {
  for (const chat::ToolCallEvent& event : events) {
    switch (event.kind) {
      case chat::ToolCallEvent::Kind::kContent:
        output_.content += event.text;
        break;
      case chat::ToolCallEvent::Kind::kCallBegin:
        output_.tool_calls.push_back({event.id, event.name, {}});
        break;
      case chat::ToolCallEvent::Kind::kArguments:
        if (event.index >= 0 && static_cast<size_t>(event.index) < output_.tool_calls.size()) {
          output_.tool_calls[static_cast<size_t>(event.index)].arguments += event.text;
        }
        break;
      case chat::ToolCallEvent::Kind::kCallEnd:
        break;
    }
  }
}

}  // namespace tether::api
