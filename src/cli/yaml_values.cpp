#include "cli/yaml_values.h"

#include <cmath>
#include <exception>

#include "common/error.h"

namespace tether::cli {

std::string mark_of(const YAML::Node& node) {
  const YAML::Mark mark = node.Mark();
  return mark.line >= 0 ? fmt::format("line {}", mark.line + 1) : std::string("?");
}

std::string scalar(const YAML::Node& node, std::string_view source, std::string_view key) {
  if (!node.IsScalar()) {
    throw_error(ErrorCode::kInvalidArgument, "{}: {}: '{}' must be a scalar value", source, mark_of(node), key);
  }
  return node.Scalar();
}

std::string as_string(const YAML::Node& node, std::string_view source, std::string_view key) {
  if (node.IsNull()) return {};
  return scalar(node, source, key);
}

int64_t as_integer(const YAML::Node& node, std::string_view source, std::string_view key, int64_t min,
                   int64_t max) {
  const std::string text = scalar(node, source, key);
  size_t used = 0;
  int64_t value = 0;
  try {
    value = std::stoll(text, &used, 10);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text.size()) {
    throw_error(ErrorCode::kInvalidArgument, "{}: {}: '{}' must be an integer, got '{}'", source, mark_of(node), key,
                text);
  }
  if (value < min || value > max) {
    throw_error(ErrorCode::kInvalidArgument, "{}: {}: '{}' must be in [{}, {}], got {}", source, mark_of(node), key,
                min, max, value);
  }
  return value;
}

bool as_bool(const YAML::Node& node, std::string_view source, std::string_view key) {
  const std::string text = scalar(node, source, key);
  if (text == "true" || text == "yes" || text == "on") return true;
  if (text == "false" || text == "no" || text == "off") return false;
  throw_error(ErrorCode::kInvalidArgument, "{}: {}: '{}' must be true or false, got '{}'", source, mark_of(node),
              key, text);
}

std::chrono::milliseconds as_ms(const YAML::Node& node, std::string_view source, std::string_view key) {
  return std::chrono::milliseconds(as_integer(node, source, key, 1, int64_t{24} * 3600 * 1000));
}

double as_number(const YAML::Node& node, std::string_view source, std::string_view key, double min, double max) {
  const std::string text = scalar(node, source, key);
  size_t used = 0;
  double value = 0;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text.size() || !std::isfinite(value)) {
    throw_error(ErrorCode::kInvalidArgument, "{}: {}: '{}' must be a number, got '{}'", source, mark_of(node), key,
                text);
  }
  if (value < min || value > max) {
    throw_error(ErrorCode::kInvalidArgument, "{}: {}: '{}' must be in [{}, {}], got {}", source, mark_of(node), key,
                min, max, value);
  }
  return value;
}

std::vector<std::string> as_string_list(const YAML::Node& node, std::string_view source, std::string_view key) {
  std::vector<std::string> values;
  if (node.IsNull()) return values;
  if (node.IsScalar()) return {node.Scalar()};
  if (!node.IsSequence()) {
    throw_error(ErrorCode::kInvalidArgument, "{}: {}: '{}' must be a list of names", source, mark_of(node), key);
  }
  for (const auto& item : node) values.push_back(scalar(item, source, key));
  return values;
}

void require_map(const YAML::Node& node, std::string_view source, std::string_view key) {
  if (!node.IsMap()) {
    throw_error(ErrorCode::kInvalidArgument, "{}: {}: '{}' must be a mapping of keys", source, mark_of(node), key);
  }
}

}  // namespace tether::cli
