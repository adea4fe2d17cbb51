#pragma once

#include <string>

#include <boost/json/array.hpp>
#include <boost/json/value.hpp>

namespace tether::chat {

// OpenAI's tool_choice.
struct ToolChoice {
  enum class Mode {
    kNone,      // never call: no parsing, no constraint
    kAuto,      // the model decides; output is parsed for calls
    kRequired,  // at least one call to any tool, forced by a grammar
    kFunction,  // a call to `function_name`, forced by a grammar
  };
  Mode mode = Mode::kAuto;
  std::string function_name;

  bool operator==(const ToolChoice&) const = default;
};

// Checks a request's `tools` against OpenAI's shape: an array of
// {"type": "function", "function": {"name", "description"?, "parameters"?,
// "strict"?}} with names of 1..64 characters [A-Za-z0-9_-], unique, and
// parameters a JSON object. Throws Error(kInvalidArgument) whose message
// names the field, e.g. "tools[1].function.name is missing".
void validate_tools(const boost::json::value& tools);

// Reads `tool_choice` (nullptr: absent) for validated `tools`: "none",
// "auto", "required" or {"type": "function", "function": {"name": N}} with N
// one of the tools. Absent means auto when there are tools, none otherwise,
// as OpenAI does. Throws Error(kInvalidArgument) naming the field.
ToolChoice parse_tool_choice(const boost::json::value* tool_choice, const boost::json::array& tools);

// The `function.parameters` schema of a validated tool; a tool without one
// takes no arguments: {"type": "object", "properties": {}}.
boost::json::value tool_parameters(const boost::json::value& tool);
std::string tool_name(const boost::json::value& tool);

}  // namespace tether::chat
