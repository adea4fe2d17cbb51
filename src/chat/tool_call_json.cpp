#include "chat/tool_call_json.h"

namespace tether::chat {

namespace json = boost::json;

json::array tool_calls_to_json(const std::vector<ToolCall>& calls) {
  json::array out;
  out.reserve(calls.size());
  for (const ToolCall& call : calls) {
    out.push_back(json::object{
        {"id", call.id},
        {"type", "function"},
        {"function", json::object{{"name", call.name}, {"arguments", call.arguments}}},
    });
  }
  return out;
}

json::object tool_call_event_delta(const ToolCallEvent& event) {
  switch (event.kind) {
    case ToolCallEvent::Kind::kContent:
      return json::object{{"content", event.text}};
    case ToolCallEvent::Kind::kCallBegin:
      return json::object{{"tool_calls", json::array{json::object{
                                             {"index", event.index},
                                             {"id", event.id},
                                             {"type", "function"},
                                             {"function", json::object{{"name", event.name}, {"arguments", ""}}},
                                         }}}};
    case ToolCallEvent::Kind::kArguments:
      return json::object{{"tool_calls", json::array{json::object{
                                             {"index", event.index},
                                             {"function", json::object{{"arguments", event.text}}},
                                         }}}};
    case ToolCallEvent::Kind::kCallEnd:
      return json::object{};
  }
  return json::object{};
}

}  // namespace tether::chat
