#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/value.hpp>

#include "chat/tool_call_format.h"

namespace tether::chat {

// What a family's header parser saw at the start of a call (after the start
// marker, or after the previous call of the same block). The parser is given
// everything held so far and decides from those bytes alone, so a decision
// never depends on how the text was split into pieces.
struct ToolCallHeaderStep {
  enum class Kind {
    kIncomplete,  // a valid prefix; more text needed
    kMismatch,    // not a call: the held text is content
    kCall,        // name (and maybe id) known; a JSON object of arguments
                  // starts at `consumed`, to be streamed as it arrives
    kWholeValue,  // a JSON value starts at `consumed` that must be read
                  // whole before it can be told to be a call
    kEnd,         // the block closes after `consumed` bytes; content follows
  };
  Kind kind = Kind::kIncomplete;
  size_t consumed = 0;
  std::string name;
  std::string id;   // empty: the format carries none here
  int variant = 0;  // family-specific, handed back to trailer()
};

// What follows a call's arguments (or whole value).
struct ToolCallTrailerStep {
  enum class Kind {
    kIncomplete,  // a valid prefix of the closing syntax; more text needed
    kMismatch,    // unexpected text: the call ends, the text is content
    kNextCall,    // `consumed` bytes close this call; another header follows
    kContent,     // `consumed` bytes close this call (and its block)
  };
  Kind kind = Kind::kIncomplete;
  size_t consumed = 0;
};

struct ToolCallWholeValue {
  std::string name;
  std::string id;
  std::string arguments;
};

// One model family's tool-call syntax, as the streaming parser needs it.
class ToolCallSyntax {
 public:
  virtual ~ToolCallSyntax() = default;

  // Texts that open a block of calls anywhere in the output.
  virtual const std::vector<std::string_view>& start_markers() const = 0;
  // Llama 3 also opens a call with a bare '{' as the message's first
  // non-whitespace byte (the marker is then the empty string).
  virtual bool opens_with_bare_json() const { return false; }
  virtual ToolCallHeaderStep header(std::string_view text, bool first_in_block) const = 0;
  virtual ToolCallTrailerStep trailer(std::string_view text, int variant) const = 0;
  // Reads a value from kWholeValue; nullopt: not a call.
  virtual std::optional<ToolCallWholeValue> whole_value(const boost::json::value& value) const = 0;
};

std::unique_ptr<const ToolCallSyntax> make_tool_call_syntax(ToolCallFormat format);

}  // namespace tether::chat
