#include "api/batch_input.h"

#include <charconv>
#include <unordered_set>

#include <boost/json/parse.hpp>
#include <boost/json/parse_options.hpp>
#include <boost/json/serialize.hpp>
#include <fmt/format.h>

#include "http/http_error.h"

namespace tether::api {

namespace {

constexpr int64_t kMaxWindowMs = int64_t{31} * 24 * 3600 * 1000;

[[noreturn]] void bad_line(size_t line, const std::string& problem) {
  throw http::HttpError(400, fmt::format("input file line {}: {}", line, problem), "invalid_request_error",
                        "input_file_id", "invalid_batch_line");
}

std::string_view json_type(const boost::json::value& value) {
  switch (value.kind()) {
    case boost::json::kind::null: return "null";
    case boost::json::kind::bool_: return "a boolean";
    case boost::json::kind::int64:
    case boost::json::kind::uint64:
    case boost::json::kind::double_: return "a number";
    case boost::json::kind::string: return "a string";
    case boost::json::kind::array: return "an array";
    case boost::json::kind::object: return "an object";
  }
  return "a value";
}

}  // namespace

int64_t parse_completion_window(std::string_view text) {
  auto refuse = [&]() -> int64_t {
    throw http::HttpError::bad_request(
        fmt::format("completion_window must be a whole number and a unit (h, m or s) up to 31 days, like \"24h\"; "
                    "got \"{}\"",
                    text),
        "completion_window");
  };
  if (text.size() < 2) return refuse();
  int64_t unit_ms = 0;
  switch (text.back()) {
    case 'h': unit_ms = 3'600'000; break;
    case 'm': unit_ms = 60'000; break;
    case 's': unit_ms = 1'000; break;
    default: return refuse();
  }
  const std::string_view digits = text.substr(0, text.size() - 1);
  int64_t count = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), count);
  if (ec != std::errc() || end != digits.data() + digits.size() || count < 1 || count > kMaxWindowMs / unit_ms) {
    return refuse();
  }
  return count * unit_ms;
}

BatchInput parse_batch_input(std::string_view jsonl, std::string_view endpoint, size_t max_requests) {
  BatchInput input;
  std::unordered_set<std::string> custom_ids;
  boost::json::parse_options options;
  options.max_depth = 64;
  size_t line_number = 0;
  size_t pos = 0;
  while (pos < jsonl.size()) {
    size_t end = jsonl.find('\n', pos);
    if (end == std::string_view::npos) end = jsonl.size();
    std::string_view line = jsonl.substr(pos, end - pos);
    pos = end + 1;
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find_first_not_of(" \t") == std::string_view::npos) continue;
    if (input.items.size() >= max_requests) {
      bad_line(line_number, fmt::format("a batch holds at most {} requests", max_requests));
    }

    boost::system::error_code ec;
    boost::json::value value = boost::json::parse(line, ec, {}, options);
    if (ec) bad_line(line_number, "not valid JSON (" + ec.message() + ")");
    if (!value.is_object()) bad_line(line_number, fmt::format("expected a JSON object, got {}", json_type(value)));
    boost::json::object& request = value.as_object();

    const boost::json::value* custom_id = request.if_contains("custom_id");
    if (custom_id == nullptr || !custom_id->is_string() || custom_id->as_string().empty()) {
      bad_line(line_number, "'custom_id' must be a non-empty string");
    }
    const std::string id(custom_id->as_string());
    if (!custom_ids.insert(id).second) bad_line(line_number, fmt::format("custom_id '{}' is used twice", id));

    const boost::json::value* method = request.if_contains("method");
    if (method == nullptr || !method->is_string() || method->as_string() != "POST") {
      bad_line(line_number, "'method' must be \"POST\"");
    }
    const boost::json::value* url = request.if_contains("url");
    if (url == nullptr || !url->is_string() || url->as_string() != endpoint) {
      bad_line(line_number,
               fmt::format("'url' must be \"{}\", the batch's endpoint{}", endpoint,
                           url != nullptr && url->is_string() ? fmt::format(", not \"{}\"", url->as_string().c_str())
                                                              : std::string()));
    }
    boost::json::value* body = request.if_contains("body");
    if (body == nullptr || !body->is_object()) bad_line(line_number, "'body' must be an object");
    const boost::json::value* model = body->as_object().if_contains("model");
    if (model == nullptr || !model->is_string() || model->as_string().empty()) {
      bad_line(line_number, "'body.model' must be a non-empty string");
    }
    const std::string model_name(model->as_string());
    if (input.items.empty()) {
      input.model = model_name;
    } else if (model_name != input.model) {
      bad_line(line_number,
               fmt::format("every request of a batch must use one model: '{}' here, '{}' before", model_name,
                           input.model));
    }
    store::NewItem item;
    item.custom_id = boost::json::serialize(*custom_id);
    item.request = boost::json::serialize(*body);
    input.items.push_back(std::move(item));
  }
  if (input.items.empty()) {
    throw http::HttpError(400, "the input file holds no requests", "invalid_request_error", "input_file_id",
                          "empty_file");
  }
  return input;
}

}  // namespace tether::api
