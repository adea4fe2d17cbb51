#pragma once

#include <boost/json/array.hpp>

namespace tether::chat {

// Turns OpenAI chat messages into what chat templates expect:
// - content given as parts [{"type": "text", "text": ...}, ...] becomes one
//   string (parts joined by "\n"); a part of another type is refused;
// - an assistant's tool_calls[].function.arguments, a JSON string in
//   OpenAI's shape, becomes the object it holds (templates apply `tojson`
//   to it, which would otherwise quote the string again); arguments that
//   do not parse to an object stay the string they were;
// - everything else is kept as it is.
// Throws Error(kInvalidArgument) naming the field, e.g.
// "messages[2].content[1].type must be \"text\"".
boost::json::array prepare_messages_for_template(const boost::json::array& openai_messages);

}  // namespace tether::chat
