#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace tether::generation {

// Finds stop strings in a stream of text pieces that may split a stop string
// anywhere. Text is held back only while its tail could still begin a stop
// string; everything before that is released. The matched stop string and
// anything after it are never released.
class StopStringMatcher {
 public:
  // Empty stop strings are ignored.
  explicit StopStringMatcher(std::vector<std::string> stops);

  struct Result {
    std::string text;       // safe to emit now
    bool stopped = false;   // a stop string matched; the stream is over
    std::string matched;    // which one, when stopped
  };

  // Appends `piece` (whole UTF-8 characters) and returns what may be emitted.
  Result push(std::string_view piece);

  // The end of the stream without a match: everything still held.
  std::string flush();

  size_t held_bytes() const { return held_.size(); }

 private:
  std::vector<std::string> stops_;
  std::string held_;
  bool stopped_ = false;
};

}  // namespace tether::generation
