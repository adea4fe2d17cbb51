#include "engine/generation/stop_string_matcher.h"

#include <algorithm>

namespace tether::generation {

namespace {

bool is_utf8_continuation(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

}  // namespace

StopStringMatcher::StopStringMatcher(std::vector<std::string> stops) {
  for (std::string& stop : stops) {
    if (!stop.empty()) stops_.push_back(std::move(stop));
  }
}

StopStringMatcher::Result StopStringMatcher::push(std::string_view piece) {
  Result result;
  if (stopped_) return result;
  held_.append(piece);
  if (stops_.empty()) {
    result.text = std::move(held_);
    held_.clear();
    return result;
  }

  // Every earlier occurrence would have been found before, and released text
  // never ends in a stop prefix, so a match starts inside held_.
  size_t first = std::string::npos;
  const std::string* first_stop = nullptr;
  for (const std::string& stop : stops_) {
    const size_t pos = held_.find(stop);
    if (pos < first) {
      first = pos;
      first_stop = &stop;
    }
  }
  if (first_stop != nullptr) {
    result.text = held_.substr(0, first);
    result.stopped = true;
    result.matched = *first_stop;
    held_.clear();
    stopped_ = true;
    return result;
  }

  // Keep the longest tail of held_ that is a proper prefix of some stop.
  size_t keep = 0;
  for (const std::string& stop : stops_) {
    const size_t max_len = std::min(held_.size(), stop.size() - 1);
    for (size_t len = max_len; len > keep; --len) {
      if (std::string_view(held_).substr(held_.size() - len) == std::string_view(stop).substr(0, len)) {
        keep = len;
        break;
      }
    }
  }
  size_t split = held_.size() - keep;
  // A stop string that starts mid-character (not valid UTF-8) must not make
  // us release half a character.
  while (split > 0 && split < held_.size() && is_utf8_continuation(held_[split])) --split;
  result.text = held_.substr(0, split);
  held_.erase(0, split);
  return result;
}

std::string StopStringMatcher::flush() {
  std::string rest = std::move(held_);
  held_.clear();
  return stopped_ ? std::string() : rest;
}

}  // namespace tether::generation
