#pragma once

#include <boost/json/array.hpp>

#include "chat/tool_call_format.h"
#include "chat/tool_call_request.h"
#include "constrain/grammar.h"

namespace tether::chat {

// At most this many calls in one forced turn with parallel_tool_calls.
inline constexpr int kMaxForcedToolCalls = 8;

// The grammar that forces a well-formed call in `format`'s syntax, written
// as the family's template writes calls back, with arguments valid against
// the tool's `function.parameters`: for tool_choice required a call to any
// of `tools`, for a named function a call to that one. With `parallel`,
// one to kMaxForcedToolCalls calls, else exactly one; Llama 3 always gets
// exactly one (its templates refuse several calls in one message). The
// output starts with the call: no text before, none after.
// Markers are matched as text: constrain::Vocabulary never offers control
// tokens, so with a real Mistral, Kimi or DeepSeek vocabulary the model
// spells [TOOL_CALLS] and the like with ordinary tokens (the parser reads
// the same text either way).
// `tools` must have passed validate_tools(). Throws Error(kInvalidArgument)
// for tool_choice none/auto, an unknown function, or a schema the grammar
// builder does not support (the message names the tool).
constrain::Grammar forced_tool_call_grammar(ToolCallFormat format, const boost::json::array& tools,
                                            const ToolChoice& choice, bool parallel,
                                            const constrain::JsonOptions& options = {});

}  // namespace tether::chat
