#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace tether::http {

// One Server-Sent Event.
struct SseEvent {
  std::string event = "message";  // the "event:" field, "message" when absent
  std::string data;               // "data:" lines joined with '\n'
  std::string id;
};

// Incremental parser of a text/event-stream body (the WHATWG rules: lines end
// in \n, \r\n or \r, "field: value" with one optional space, ':' comments, an
// empty line dispatches, an event without data is dropped). Bytes may arrive
// split anywhere. A line longer than max_line_bytes is Error(kCorruptData).
class SseParser {
 public:
  explicit SseParser(size_t max_line_bytes = 8 * 1024 * 1024) : max_line_bytes_(max_line_bytes) {}

  // Feeds bytes; returns the events they completed.
  std::vector<SseEvent> feed(std::string_view bytes);

 private:
  void line(std::string_view text, std::vector<SseEvent>& out);

  size_t max_line_bytes_;
  std::string pending_;       // an unfinished line
  bool skip_lf_ = false;      // the last byte was \r: a following \n belongs to it
  SseEvent current_;
  bool has_data_ = false;
};

}  // namespace tether::http
