#include "chat/tool_call_parser.h"

#include <algorithm>

#include <boost/json.hpp>

#include "chat/tool_call_syntax.h"
#include "common/error.h"

namespace tether::chat {
namespace {

namespace json = boost::json;

constexpr size_t kCompactBytes = 4096;

bool is_space(char byte) { return byte == ' ' || byte == '\t' || byte == '\n' || byte == '\r'; }

// Whether `text` is a proper, non-empty prefix of `marker`.
bool is_partial_marker(std::string_view text, std::string_view marker) {
  return !text.empty() && text.size() < marker.size() && marker.substr(0, text.size()) == text;
}

}  // namespace

ToolCallParser::ToolCallParser(ToolCallFormat format, ToolCallIdGenerator ids)
    : format_(format), syntax_(make_tool_call_syntax(format)), ids_(std::move(ids)) {
  // Llama 3 opens a call with a bare '{' first thing in the message, so
  // leading whitespace must wait until that is known.
  hold_space_ = syntax_->opens_with_bare_json();
}

ToolCallParser::~ToolCallParser() = default;
ToolCallParser::ToolCallParser(ToolCallParser&&) noexcept = default;
ToolCallParser& ToolCallParser::operator=(ToolCallParser&&) noexcept = default;

std::vector<ToolCallEvent> ToolCallParser::feed(std::string_view piece) {
  if (finished_) throw_error(ErrorCode::kInvalidArgument, "tool call parser: feed after finish");
  buffer_.append(piece);
  run();
  compact();
  return std::exchange(events_, {});
}

std::vector<ToolCallEvent> ToolCallParser::finish() {
  if (finished_) throw_error(ErrorCode::kInvalidArgument, "tool call parser: finish called twice");
  eof_ = true;
  run();
  finished_ = true;
  buffer_.clear();
  pos_ = 0;
  return std::exchange(events_, {});
}

void ToolCallParser::run() {
  for (;;) {
    bool progressed = false;
    switch (mode_) {
      case Mode::kContent: progressed = step_content(); break;
      case Mode::kHeader: progressed = step_header(); break;
      case Mode::kArguments: progressed = step_arguments(); break;
      case Mode::kWholeValue: progressed = step_whole_value(); break;
      case Mode::kTrailer: progressed = step_trailer(); break;
    }
    if (!progressed) return;
  }
}

bool ToolCallParser::step_content() {
  const std::string_view rest = std::string_view(buffer_).substr(pos_);
  if (rest.empty()) return false;
  const std::vector<std::string_view>& markers = syntax_->start_markers();

  if (hold_space_) {
    size_t first = 0;
    while (first < rest.size() && is_space(rest[first])) ++first;
    if (first == rest.size()) {
      if (!eof_) return false;
      // Whitespace that only trails a call is dropped; a message of nothing
      // but whitespace keeps it.
      if (!after_call_) emit_content(rest);
      pos_ = buffer_.size();
      return false;
    }
    const std::string_view tail = rest.substr(first);
    if (at_message_start_ && syntax_->opens_with_bare_json() && tail.front() == '{') {
      open_block(pos_ + first, pos_ + first);
      return true;
    }
    for (const std::string_view marker : markers) {
      if (tail.substr(0, marker.size()) == marker) {
        open_block(pos_ + first, pos_ + first + marker.size());
        return true;
      }
      if (!eof_ && is_partial_marker(tail, marker)) return false;
    }
    hold_space_ = false;
    after_call_ = false;
  }
  at_message_start_ = false;

  size_t full = std::string_view::npos;
  size_t full_length = 0;
  for (const std::string_view marker : markers) {
    const size_t at = rest.find(marker);
    if (at < full) {
      full = at;
      full_length = marker.size();
    }
  }
  // The earliest tail of the text that may still grow into a marker.
  size_t partial = rest.size();
  if (!eof_) {
    for (const std::string_view marker : markers) {
      const size_t longest = std::min(marker.size() - 1, rest.size());
      for (size_t length = longest; length > 0; --length) {
        if (rest.size() - length >= partial) break;
        if (marker.substr(0, length) == rest.substr(rest.size() - length)) {
          partial = rest.size() - length;
          break;
        }
      }
    }
  }
  if (full != std::string_view::npos && full < partial) {
    emit_content(rest.substr(0, full));
    open_block(pos_ + full, pos_ + full + full_length);
    return true;
  }
  emit_content(rest.substr(0, partial));
  pos_ += partial;
  return false;
}

void ToolCallParser::open_block(size_t block_start, size_t header_start) {
  block_start_ = block_start;
  header_start_ = header_start;
  pos_ = header_start;
  first_in_block_ = true;
  hold_space_ = false;
  after_call_ = false;
  at_message_start_ = false;
  mode_ = Mode::kHeader;
}

// The block is not a call after all: its marker is content, and what
// follows it is read again as content (it may hold a real marker).
void ToolCallParser::fail_block() {
  emit_content(std::string_view(buffer_).substr(block_start_, header_start_ - block_start_));
  pos_ = header_start_;
  mode_ = Mode::kContent;
}

// After the last call of a block, whitespace is held back: it is dropped if
// another call or the end follows, and released before other content.
void ToolCallParser::after_calls() {
  mode_ = Mode::kContent;
  hold_space_ = true;
  after_call_ = true;
}

bool ToolCallParser::step_header() {
  const std::string_view text = std::string_view(buffer_).substr(header_start_);
  const ToolCallHeaderStep step = syntax_->header(text, first_in_block_);
  switch (step.kind) {
    case ToolCallHeaderStep::Kind::kIncomplete:
      if (!eof_ && text.size() <= kMaxHeaderBytes) return false;
      fail_block();
      return true;
    case ToolCallHeaderStep::Kind::kMismatch:
      fail_block();
      return true;
    case ToolCallHeaderStep::Kind::kCall:
      begin_call(step.name, step.id);
      pos_ = header_start_ + step.consumed;
      variant_ = step.variant;
      scanner_ = ToolCallJsonScanner();
      mode_ = Mode::kArguments;
      return true;
    case ToolCallHeaderStep::Kind::kWholeValue:
      value_start_ = header_start_ + step.consumed;
      scan_pos_ = value_start_;
      variant_ = step.variant;
      scanner_ = ToolCallJsonScanner();
      mode_ = Mode::kWholeValue;
      return true;
    case ToolCallHeaderStep::Kind::kEnd:
      pos_ = header_start_ + step.consumed;
      after_calls();
      return true;
  }
  return false;
}

bool ToolCallParser::step_arguments() {
  const size_t start = pos_;
  for (size_t at = pos_; at < buffer_.size(); ++at) {
    const auto status = scanner_.feed(buffer_[at]);
    if (status == ToolCallJsonScanner::Status::kContinue) continue;
    if (status == ToolCallJsonScanner::Status::kDone) {
      emit_arguments(std::string_view(buffer_).substr(start, at + 1 - start));
      pos_ = at + 1;
      mode_ = Mode::kTrailer;
      return true;
    }
    // Not JSON after all: the call keeps the valid prefix it streamed, and
    // the rest is content.
    emit_arguments(std::string_view(buffer_).substr(start, at - start));
    end_call();
    pos_ = at;
    mode_ = Mode::kContent;
    return true;
  }
  emit_arguments(std::string_view(buffer_).substr(start));
  pos_ = buffer_.size();
  if (!eof_) return false;
  end_call();
  after_calls();
  return false;
}

bool ToolCallParser::step_whole_value() {
  for (; scan_pos_ < buffer_.size(); ++scan_pos_) {
    if (scan_pos_ - value_start_ >= kMaxWholeValueBytes) {
      fail_block();
      return true;
    }
    const auto status = scanner_.feed(buffer_[scan_pos_]);
    if (status == ToolCallJsonScanner::Status::kContinue) continue;
    if (status == ToolCallJsonScanner::Status::kError) {
      fail_block();
      return true;
    }
    const std::string_view raw = std::string_view(buffer_).substr(value_start_, scan_pos_ + 1 - value_start_);
    boost::system::error_code error;
    const json::value value = json::parse(raw, error);
    std::optional<ToolCallWholeValue> call;
    if (!error) call = syntax_->whole_value(value);
    if (!call) {
      fail_block();
      return true;
    }
    begin_call(std::move(call->name), std::move(call->id));
    emit_arguments(call->arguments);
    pos_ = scan_pos_ + 1;
    mode_ = Mode::kTrailer;
    return true;
  }
  if (!eof_) return false;
  fail_block();
  return true;
}

bool ToolCallParser::step_trailer() {
  const ToolCallTrailerStep step = syntax_->trailer(std::string_view(buffer_).substr(pos_), variant_);
  switch (step.kind) {
    case ToolCallTrailerStep::Kind::kIncomplete:
      if (!eof_) return false;
      // Cut off inside the closing syntax: the call is whole anyway.
      end_call();
      pos_ = buffer_.size();
      after_calls();
      return false;
    case ToolCallTrailerStep::Kind::kMismatch:
      end_call();
      mode_ = Mode::kContent;
      return true;
    case ToolCallTrailerStep::Kind::kNextCall:
      end_call();
      pos_ += step.consumed;
      block_start_ = pos_;
      header_start_ = pos_;
      first_in_block_ = false;
      mode_ = Mode::kHeader;
      return true;
    case ToolCallTrailerStep::Kind::kContent:
      end_call();
      pos_ += step.consumed;
      after_calls();
      return true;
  }
  return false;
}

void ToolCallParser::emit_content(std::string_view text) {
  if (text.empty()) return;
  if (!events_.empty() && events_.back().kind == ToolCallEvent::Kind::kContent) {
    events_.back().text.append(text);
    return;
  }
  ToolCallEvent event;
  event.kind = ToolCallEvent::Kind::kContent;
  event.text = std::string(text);
  events_.push_back(std::move(event));
}

void ToolCallParser::begin_call(std::string name, std::string id) {
  ToolCallEvent event;
  event.kind = ToolCallEvent::Kind::kCallBegin;
  event.index = call_count_;
  event.id = id.empty() ? ids_.next(format_) : std::move(id);
  event.name = std::move(name);
  events_.push_back(std::move(event));
}

void ToolCallParser::emit_arguments(std::string_view text) {
  if (text.empty()) return;
  if (!events_.empty() && events_.back().kind == ToolCallEvent::Kind::kArguments) {
    events_.back().text.append(text);
    return;
  }
  ToolCallEvent event;
  event.kind = ToolCallEvent::Kind::kArguments;
  event.index = call_count_;
  event.text = std::string(text);
  events_.push_back(std::move(event));
}

void ToolCallParser::end_call() {
  ToolCallEvent event;
  event.kind = ToolCallEvent::Kind::kCallEnd;
  event.index = call_count_;
  events_.push_back(std::move(event));
  ++call_count_;
}

// Drops released text from the front of the buffer once there is enough of
// it, so a long output does not keep all its text.
void ToolCallParser::compact() {
  const bool block_held = mode_ == Mode::kHeader || mode_ == Mode::kWholeValue;
  const size_t keep = block_held ? block_start_ : pos_;
  if (keep < kCompactBytes || keep < buffer_.size() / 2) return;
  buffer_.erase(0, keep);
  const auto shift = [keep](size_t& position) { position = position >= keep ? position - keep : 0; };
  shift(pos_);
  shift(block_start_);
  shift(header_start_);
  shift(value_start_);
  shift(scan_pos_);
}

void apply_tool_call_event(ParsedToolCalls& result, const ToolCallEvent& event) {
  switch (event.kind) {
    case ToolCallEvent::Kind::kContent:
      result.content += event.text;
      return;
    case ToolCallEvent::Kind::kCallBegin:
      result.tool_calls.push_back(ToolCall{event.id, event.name, ""});
      return;
    case ToolCallEvent::Kind::kArguments:
      if (event.index >= 0 && static_cast<size_t>(event.index) < result.tool_calls.size()) {
        result.tool_calls[event.index].arguments += event.text;
      }
      return;
    case ToolCallEvent::Kind::kCallEnd:
      return;
  }
}

ParsedToolCalls parse_tool_calls(ToolCallFormat format, std::string_view text, ToolCallIdGenerator ids) {
  ToolCallParser parser(format, std::move(ids));
  ParsedToolCalls result;
  for (const ToolCallEvent& event : parser.feed(text)) apply_tool_call_event(result, event);
  for (const ToolCallEvent& event : parser.finish()) apply_tool_call_event(result, event);
  return result;
}

}  // namespace tether::chat
