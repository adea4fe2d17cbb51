#pragma once

#include <string>
#include <string_view>
#include <vector>

// Python's str methods over UTF-8 text, shared by the string methods and
// the filters that wrap them (trim is strip, upper is str.upper, ...).
namespace tether::jinja::text {

bool is_python_space(uint32_t code_point);
// strip/lstrip/rstrip: Python whitespace when `chars` is null, else any
// code point of *chars.
std::string strip(std::string_view s, const std::string* chars, bool left, bool right);
// split(sep=None, maxsplit=-1)
std::vector<std::string> split(std::string_view s, const std::string* separator, int64_t max_split);
std::vector<std::string> rsplit(std::string_view s, const std::string* separator, int64_t max_split);
std::vector<std::string> splitlines(std::string_view s, bool keep_ends);
std::string replace(std::string_view s, std::string_view from, std::string_view to, int64_t count,
                    size_t max_bytes);
// ASCII case mapping; other code points are left as they are.
std::string upper(std::string_view s);
std::string lower(std::string_view s);
std::string capitalize(std::string_view s);
// str.title: a letter after a non-letter is upper-cased, others lower-cased.
std::string title(std::string_view s);

}  // namespace tether::jinja::text
