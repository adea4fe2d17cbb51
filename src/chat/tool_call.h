#pragma once

#include <string>
#include <vector>

namespace tether::chat {

// One parsed call, OpenAI style: `arguments` is the JSON text of the
// arguments object exactly as the model wrote it.
struct ToolCall {
  std::string id;
  std::string name;
  std::string arguments;

  bool operator==(const ToolCall&) const = default;
};

// A complete output split into the text outside calls and the calls.
struct ParsedToolCalls {
  std::string content;
  std::vector<ToolCall> tool_calls;

  bool operator==(const ParsedToolCalls&) const = default;
};

}  // namespace tether::chat
