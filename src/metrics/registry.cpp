#include "metrics/registry.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <variant>

#include <fmt/format.h>

namespace tether::metrics {
namespace {

bool valid_name(std::string_view name, bool allow_colon) {
  if (name.empty()) return false;
  for (size_t idx = 0; idx < name.size(); ++idx) {
    const unsigned char c = static_cast<unsigned char>(name[idx]);
    const bool ok = std::isalpha(c) || c == '_' || (allow_colon && c == ':') || (idx > 0 && std::isdigit(c));
    if (!ok) return false;
  }
  return true;
}

void check_names(const std::string& name, const std::vector<std::string>& label_names) {
  if (!valid_name(name, true)) throw_error(ErrorCode::kInvalidArgument, "invalid metric name '{}'", name);
  for (const std::string& label : label_names) {
    if (!valid_name(label, false) || label.starts_with("__") || label == "le") {
      throw_error(ErrorCode::kInvalidArgument, "invalid label name '{}' for metric {}", label, name);
    }
  }
}

// {a="x",b="y"} (with `extra` appended, e.g. le), or "" with no labels at all.
std::string label_set(const std::vector<std::string>& names, const std::vector<std::string>& values,
                      std::string_view extra_name = {}, std::string_view extra_value = {}) {
  if (names.empty() && extra_name.empty()) return {};
  std::string out = "{";
  for (size_t label_idx = 0; label_idx < names.size() && label_idx < values.size(); ++label_idx) {
    if (label_idx > 0) out += ',';
    out += fmt::format("{}=\"{}\"", names[label_idx], escape_label_value(values[label_idx]));
  }
  if (!extra_name.empty()) {
    if (!names.empty()) out += ',';
    out += fmt::format("{}=\"{}\"", extra_name, escape_label_value(extra_value));
  }
  out += '}';
  return out;
}

}  // namespace

struct Registry::Entry {
  std::string name;
  std::string help;
  std::string type;  // counter, gauge, histogram
  std::vector<std::string> label_names;
  std::unique_ptr<Family<Counter>> counters;
  std::unique_ptr<Family<Gauge>> gauges;
  std::unique_ptr<Family<Histogram>> histograms;
  SampleReader reader;  // callback metrics
};

Registry::Registry() = default;
Registry::~Registry() = default;

std::string escape_label_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string escape_help(std::string_view help) {
  std::string out;
  out.reserve(help.size());
  for (char c : help) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string format_sample_value(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (value == std::floor(value) && std::fabs(value) < 1e15) return fmt::format("{}", static_cast<int64_t>(value));
  return fmt::format("{}", value);
}

Registry::Entry& Registry::find_or_add(const std::string& name, std::string_view type,
                                       const std::vector<std::string>& label_names, bool& added) {
  check_names(name, label_names);
  for (auto& entry : entries_) {
    if (entry->name != name) continue;
    if (entry->type != type || entry->label_names != label_names || entry->reader) {
      throw_error(ErrorCode::kInvalidArgument, "metric {} is already registered as another {} or with other labels",
                  name, entry->type);
    }
    added = false;
    return *entry;
  }
  auto entry = std::make_unique<Entry>();
  entry->name = name;
  entry->type = std::string(type);
  entry->label_names = label_names;
  entries_.push_back(std::move(entry));
  added = true;
  return *entries_.back();
}

Family<Counter>& Registry::counter(const std::string& name, const std::string& help,
                                   std::vector<std::string> label_names) {
  std::lock_guard lock(mutex_);
  bool added = false;
  Entry& entry = find_or_add(name, "counter", label_names, added);
  if (added) {
    entry.help = help;
    entry.counters = std::make_unique<Family<Counter>>(name, help, label_names,
                                                       [] { return std::make_unique<Counter>(); });
  }
  return *entry.counters;
}

Family<Gauge>& Registry::gauge(const std::string& name, const std::string& help,
                               std::vector<std::string> label_names) {
  std::lock_guard lock(mutex_);
  bool added = false;
  Entry& entry = find_or_add(name, "gauge", label_names, added);
  if (added) {
    entry.help = help;
    entry.gauges =
        std::make_unique<Family<Gauge>>(name, help, label_names, [] { return std::make_unique<Gauge>(); });
  }
  return *entry.gauges;
}

Family<Histogram>& Registry::histogram(const std::string& name, const std::string& help,
                                       std::vector<std::string> label_names, std::vector<double> bounds) {
  Histogram check(bounds);  // validates the bounds before anything is registered
  std::lock_guard lock(mutex_);
  bool added = false;
  Entry& entry = find_or_add(name, "histogram", label_names, added);
  if (added) {
    entry.help = help;
    entry.histograms = std::make_unique<Family<Histogram>>(
        name, help, label_names, [bounds] { return std::make_unique<Histogram>(bounds); });
  }
  return *entry.histograms;
}

void Registry::callback(const std::string& name, const std::string& help, std::string_view type,
                        std::vector<std::string> label_names, SampleReader read) {
  if (type != "gauge" && type != "counter") {
    throw_error(ErrorCode::kInvalidArgument, "callback metric {} must be a gauge or a counter", name);
  }
  check_names(name, label_names);
  std::lock_guard lock(mutex_);
  for (const auto& entry : entries_) {
    if (entry->name == name) throw_error(ErrorCode::kInvalidArgument, "metric {} is already registered", name);
  }
  auto entry = std::make_unique<Entry>();
  entry->name = name;
  entry->help = help;
  entry->type = std::string(type);
  entry->label_names = std::move(label_names);
  entry->reader = std::move(read);
  entries_.push_back(std::move(entry));
}

void Registry::callback_gauge(const std::string& name, const std::string& help, std::function<double()> read) {
  callback(name, help, "gauge", {}, [read = std::move(read)] { return std::vector<Sample>{{{}, read()}}; });
}

void Registry::callback_counter(const std::string& name, const std::string& help, std::function<double()> read) {
  callback(name, help, "counter", {}, [read = std::move(read)] { return std::vector<Sample>{{{}, read()}}; });
}

std::string Registry::expose() const {
  std::vector<const Entry*> entries;
  {
    std::lock_guard lock(mutex_);
    for (const auto& entry : entries_) entries.push_back(entry.get());
  }
  std::sort(entries.begin(), entries.end(), [](const Entry* a, const Entry* b) { return a->name < b->name; });
  std::string out;
  for (const Entry* entry : entries) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", entry->name, escape_help(entry->help), entry->name,
                       entry->type);
    const std::vector<std::string>& names = entry->label_names;
    if (entry->reader) {
      for (const Sample& sample : entry->reader()) {
        if (sample.label_values.size() != names.size()) continue;
        out += fmt::format("{}{} {}\n", entry->name, label_set(names, sample.label_values),
                           format_sample_value(sample.value));
      }
    } else if (entry->counters) {
      entry->counters->for_each([&](const std::vector<std::string>& values, const Counter& counter) {
        out += fmt::format("{}{} {}\n", entry->name, label_set(names, values), format_sample_value(counter.value()));
      });
    } else if (entry->gauges) {
      entry->gauges->for_each([&](const std::vector<std::string>& values, const Gauge& gauge) {
        out += fmt::format("{}{} {}\n", entry->name, label_set(names, values), format_sample_value(gauge.value()));
      });
    } else if (entry->histograms) {
      entry->histograms->for_each([&](const std::vector<std::string>& values, const Histogram& histogram) {
        const Histogram::Snapshot snapshot = histogram.snapshot();
        for (size_t bound_idx = 0; bound_idx <= snapshot.bounds.size(); ++bound_idx) {
          const std::string le =
              bound_idx < snapshot.bounds.size() ? format_sample_value(snapshot.bounds[bound_idx]) : "+Inf";
          out += fmt::format("{}_bucket{} {}\n", entry->name, label_set(names, values, "le", le),
                             snapshot.cumulative[bound_idx]);
        }
        out += fmt::format("{}_sum{} {}\n", entry->name, label_set(names, values), format_sample_value(snapshot.sum));
        out += fmt::format("{}_count{} {}\n", entry->name, label_set(names, values), snapshot.count);
      });
    }
  }
  return out;
}

}  // namespace tether::metrics
