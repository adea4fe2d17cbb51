#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <yaml-cpp/yaml.h>

namespace tether::cli {

// Typed reads of YAML config values. Each throws Error(kInvalidArgument)
// naming the file (`source`), the line and the key when the value has the
// wrong type or is out of range.
std::string mark_of(const YAML::Node& node);  // "line N"
std::string scalar(const YAML::Node& node, std::string_view source, std::string_view key);
std::string as_string(const YAML::Node& node, std::string_view source, std::string_view key);  // null = ""
int64_t as_integer(const YAML::Node& node, std::string_view source, std::string_view key, int64_t min, int64_t max);
bool as_bool(const YAML::Node& node, std::string_view source, std::string_view key);
std::chrono::milliseconds as_ms(const YAML::Node& node, std::string_view source, std::string_view key);
double as_number(const YAML::Node& node, std::string_view source, std::string_view key, double min, double max);
std::vector<std::string> as_string_list(const YAML::Node& node, std::string_view source, std::string_view key);
void require_map(const YAML::Node& node, std::string_view source, std::string_view key);

}  // namespace tether::cli
