// libFuzzer target: any output text, in any family's format, parsed in one
// piece and streamed in pieces cut where the input says, gives the same
// content and calls; without calls the content is the text itself; no
// input crashes the parser or makes it hold text back for ever.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "chat/tool_call_parser.h"

namespace {

namespace chat = tether::chat;

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "tool_call_parser_fuzz: %s\n", what);
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  constexpr int kFormats = 5;
  const auto format = static_cast<chat::ToolCallFormat>(data[0] % kFormats);
  const uint8_t cut_seed = data[1];
  const std::string_view text(reinterpret_cast<const char*>(data + 2), size - 2);

  const chat::ParsedToolCalls whole = chat::parse_tool_calls(format, text, chat::ToolCallIdGenerator(1));
  if (whole.tool_calls.empty()) check(whole.content == text, "content differs from a text without calls");
  check(whole.content.size() <= text.size(), "content longer than the text");

  chat::ToolCallParser parser(format, chat::ToolCallIdGenerator(1));
  chat::ParsedToolCalls streamed;
  size_t start = 0;
  uint32_t state = cut_seed | 1u;
  while (start < text.size()) {
    state = state * 1103515245u + 12345u;
    const size_t length = 1 + (state >> 16) % 9;
    for (const auto& event : parser.feed(text.substr(start, length))) chat::apply_tool_call_event(streamed, event);
    start += length;
  }
  for (const auto& event : parser.finish()) chat::apply_tool_call_event(streamed, event);
  check(streamed == whole, "streamed parse differs from the one-shot parse");
  return 0;
}
