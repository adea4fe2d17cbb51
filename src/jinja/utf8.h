#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

// Python indexes strings by code point, so slicing, length and iteration of
// template strings go through these. Invalid bytes count as one code point
// each (decoded as U+FFFD) so no input makes them read out of bounds.
namespace tether::jinja::utf8 {

// Decodes the code point at `pos` and advances `pos` past it.
uint32_t decode(std::string_view s, size_t& pos);
void append(std::string& out, uint32_t code_point);
// Byte offsets where each code point starts, plus s.size() at the end.
std::vector<size_t> boundaries(std::string_view s);
size_t length(std::string_view s);

}  // namespace tether::jinja::utf8
