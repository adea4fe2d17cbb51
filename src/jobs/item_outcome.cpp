#include "jobs/item_outcome.h"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>
#include <boost/json/value.hpp>
#include <fmt/format.h>

#include "router/upstream.h"

namespace tether::jobs {

namespace {

const boost::json::object* object_at(const boost::json::object& object, std::string_view key) {
  const boost::json::value* value = object.if_contains(key);
  return value != nullptr && value->is_object() ? &value->as_object() : nullptr;
}

// The message of an OpenAI ({"error": {"message"}}) or Workers AI
// ({"errors": [{"message"}]}) error body; "" when there is none.
std::string error_message(std::string_view body) {
  boost::system::error_code ec;
  const boost::json::value parsed = boost::json::parse(body, ec);
  if (ec || !parsed.is_object()) return {};
  const boost::json::object& object = parsed.as_object();
  if (const boost::json::object* error = object_at(object, "error")) {
    if (const auto* message = error->if_contains("message"); message != nullptr && message->is_string()) {
      return std::string(message->as_string());
    }
  }
  if (const auto* errors = object.if_contains("errors"); errors != nullptr && errors->is_array()) {
    for (const boost::json::value& error : errors->as_array()) {
      if (!error.is_object()) continue;
      if (const auto* message = error.as_object().if_contains("message"); message != nullptr && message->is_string()) {
        return std::string(message->as_string());
      }
    }
  }
  return {};
}

// The store keeps results as JSON text: a body that is not JSON is kept as
// a JSON string.
std::string json_text(const std::string& body) {
  if (body.empty()) return body;
  boost::system::error_code ec;
  boost::json::parse(body, ec);
  if (!ec) return body;
  return boost::json::serialize(boost::json::string(body));
}

std::string describe(const api::InvokeResult& result) {
  const std::string message = error_message(result.body);
  if (result.status == 0) return message.empty() ? "no response" : message;
  return message.empty() ? fmt::format("HTTP {}", result.status) : fmt::format("HTTP {}: {}", result.status, message);
}

}  // namespace

TokenUsage usage_of(std::string_view body) {
  boost::system::error_code ec;
  const boost::json::value parsed = boost::json::parse(body, ec);
  if (ec) return {};
  const router::RelayedUsage found = router::usage_of(parsed);
  return {found.prompt_tokens.value_or(0), found.completion_tokens.value_or(0), found.cached_tokens.value_or(0)};
}

ItemDecision decide_item_outcome(const api::InvokeResult& result, int32_t attempt, int32_t max_attempts) {
  ItemDecision decision;
  const int status = result.status;
  if (status >= 200 && status < 300) {
    const TokenUsage usage = usage_of(result.body);
    decision.outcome.status = store::ItemStatus::kSucceeded;
    decision.outcome.http_status = status;
    decision.outcome.result = json_text(result.body);
    decision.outcome.prompt_tokens = usage.prompt_tokens;
    decision.outcome.completion_tokens = usage.completion_tokens;
    decision.outcome.cached_tokens = usage.cached_tokens;
    return decision;
  }
  if (status == 429 || status == 503) {
    decision.action = ItemDecision::Action::kRelease;
    decision.back_off = true;
    return decision;
  }
  const bool client_error = status >= 400 && status < 500 && status != api::kInvocationCancelled;
  if (client_error) {
    decision.outcome.status = store::ItemStatus::kFailed;
    decision.outcome.http_status = status;
    decision.outcome.result = json_text(result.body);
    decision.outcome.error = describe(result);
    return decision;
  }
  decision.server_error = true;
  if (attempt < max_attempts) {
    decision.action = ItemDecision::Action::kRelease;
    decision.back_off = true;
    return decision;
  }
  decision.outcome.status = store::ItemStatus::kFailed;
  decision.outcome.http_status = status;
  decision.outcome.result = json_text(result.body);
  decision.outcome.error = fmt::format("{} (after {} attempts)", describe(result), attempt);
  return decision;
}

}  // namespace tether::jobs
