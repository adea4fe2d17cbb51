#pragma once

#include "api/chat_request.h"
#include "api/output_assembler.h"
#include "api/served_model.h"
#include "sched/engine.h"

namespace tether::api {

// An API request turned into an engine request.
struct PreparedRequest {
  sched::Request engine_request;
  ToolParsing tool_parsing;  // how to read tool calls out of the output
};

// Renders the conversation through the model's chat template (tools
// included), tokenizes, checks the prompt against the context (400 giving
// both numbers), and compiles the grammar that structured outputs
// (response_format) or a forced tool call (tool_choice required / named)
// need. Throws http::HttpError (400) naming the offending field.
PreparedRequest prepare_request(const ServedModel& model, const ChatRequest& request);

}  // namespace tether::api
