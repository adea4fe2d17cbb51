#include "cli/async_config.h"

#include "api/batch_input.h"
#include "cli/yaml_values.h"
#include "common/error.h"
#include "http/http_error.h"

namespace tether::cli {
namespace {

constexpr int64_t kDayMs = int64_t{24} * 3600 * 1000;

void parse_webhooks(const YAML::Node& node, std::string_view source, AsyncConfig& config) {
  if (node.IsNull()) return;
  require_map(node, source, "async.webhooks");
  for (const auto& item : node) {
    const std::string key = scalar(item.first, source, "async.webhooks");
    const YAML::Node& value = item.second;
    if (key == "allow") {
      config.webhook_allow = as_string_list(value, source, key);
    } else if (key == "secret") {
      config.webhook_secret = as_string(value, source, key);
    } else if (key == "max_attempts") {
      config.webhook_max_attempts = static_cast<int32_t>(as_integer(value, source, key, 1, 1000));
    } else if (key == "initial_backoff_ms") {
      config.webhook_initial_backoff_ms = as_integer(value, source, key, 1, kDayMs);
    } else if (key == "max_backoff_ms") {
      config.webhook_max_backoff_ms = as_integer(value, source, key, 1, kDayMs);
    } else if (key == "timeout_ms") {
      config.webhook_timeout_ms = as_integer(value, source, key, 1, kDayMs);
    } else {
      throw_error(ErrorCode::kInvalidArgument, "{}: {}: unknown key 'async.webhooks.{}'", source,
                  mark_of(item.first), key);
    }
  }
}

AsyncTenant parse_tenant(const YAML::Node& node, std::string_view source) {
  require_map(node, source, "async.tenants");
  AsyncTenant tenant;
  for (const auto& item : node) {
    const std::string key = scalar(item.first, source, "async.tenants");
    const YAML::Node& value = item.second;
    if (key == "name") {
      tenant.name = scalar(value, source, key);
    } else if (key == "api_key") {
      tenant.api_key = scalar(value, source, key);
    } else if (key == "webhook_url") {
      tenant.webhook_url = as_string(value, source, key);
    } else if (key == "webhook_secret") {
      tenant.webhook_secret = as_string(value, source, key);
    } else {
      throw_error(ErrorCode::kInvalidArgument, "{}: {}: unknown key 'async.tenants.{}'", source, mark_of(item.first),
                  key);
    }
  }
  return tenant;
}

}  // namespace

void AsyncConfig::validate() const {
  if (store.empty()) throw_error(ErrorCode::kInvalidArgument, "async.store must not be empty");
  if (webhook_initial_backoff_ms > webhook_max_backoff_ms) {
    throw_error(ErrorCode::kInvalidArgument, "async.webhooks.initial_backoff_ms must not exceed max_backoff_ms");
  }
  for (size_t i = 0; i < tenants.size(); ++i) {
    const AsyncTenant& tenant = tenants[i];
    if (tenant.name.empty() || tenant.api_key.empty()) {
      throw_error(ErrorCode::kInvalidArgument, "async.tenants[{}] needs a name and an api_key", i);
    }
    for (size_t j = 0; j < i; ++j) {
      if (tenants[j].name == tenant.name || tenants[j].api_key == tenant.api_key) {
        throw_error(ErrorCode::kInvalidArgument, "async.tenants: '{}' repeats a name or api_key of '{}'",
                    tenant.name, tenants[j].name);
      }
    }
  }
}

void parse_async_config(const YAML::Node& node, std::string_view source, AsyncConfig& config) {
  if (node.IsNull()) return;
  require_map(node, source, "async");
  for (const auto& item : node) {
    const std::string key = scalar(item.first, source, "async");
    const YAML::Node& value = item.second;
    if (key == "store") {
      config.store = scalar(value, source, key);
    } else if (key == "worker_id") {
      config.worker_id = as_string(value, source, key);
    } else if (key == "max_interactive") {
      config.max_interactive = static_cast<int32_t>(as_integer(value, source, key, 0, 4096));
    } else if (key == "max_kv_use") {
      config.max_kv_use = as_number(value, source, key, 0.0, 1.0);
    } else if (key == "max_in_flight") {
      config.max_in_flight = static_cast<int32_t>(as_integer(value, source, key, 1, 4096));
    } else if (key == "yield_to_prefill") {
      config.yield_to_prefill = as_bool(value, source, key);
    } else if (key == "prefill_chunk") {
      config.prefill_chunk = static_cast<int32_t>(as_integer(value, source, key, 0, 1 << 20));
    } else if (key == "lease_ms") {
      config.lease_ms = as_integer(value, source, key, 100, kDayMs);
    } else if (key == "poll_interval_ms") {
      config.poll_interval_ms = as_integer(value, source, key, 1, 60'000);
    } else if (key == "max_attempts") {
      config.max_attempts = static_cast<int32_t>(as_integer(value, source, key, 1, 1000));
    } else if (key == "completion_window") {
      try {
        config.completion_window_ms = api::parse_completion_window(scalar(value, source, key));
      } catch (const http::HttpError& e) {
        throw_error(ErrorCode::kInvalidArgument, "{}: {}: 'completion_window': {}", source, mark_of(value), e.what());
      }
    } else if (key == "webhooks") {
      parse_webhooks(value, source, config);
    } else if (key == "tenants") {
      if (value.IsNull()) continue;
      if (!value.IsSequence()) {
        throw_error(ErrorCode::kInvalidArgument, "{}: {}: 'async.tenants' must be a list", source, mark_of(value));
      }
      for (const auto& tenant : value) config.tenants.push_back(parse_tenant(tenant, source));
    } else {
      throw_error(ErrorCode::kInvalidArgument, "{}: {}: unknown key 'async.{}'", source, mark_of(item.first), key);
    }
  }
}

}  // namespace tether::cli
