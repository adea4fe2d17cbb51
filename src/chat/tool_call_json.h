#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <vector>

#include "chat/tool_call.h"
#include "chat/tool_call_parser.h"

namespace tether::chat {

// OpenAI's message.tool_calls for a complete response:
// [{"id", "type": "function", "function": {"name", "arguments"}}, ...].
boost::json::array tool_calls_to_json(const std::vector<ToolCall>& calls);

// The `delta` of one chat.completion.chunk for a streamed event, as OpenAI
// sends them: {"content": ...}; a call's first chunk {"tool_calls": [{"index",
// "id", "type", "function": {"name", "arguments": ""}}]}; then
// {"tool_calls": [{"index", "function": {"arguments": ...}}]}. A call's end
// has no chunk of its own: an empty object.
boost::json::object tool_call_event_delta(const ToolCallEvent& event);

}  // namespace tether::chat
