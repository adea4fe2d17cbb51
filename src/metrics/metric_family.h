#pragma once

#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace tether::metrics {

// One metric name with its label names; one child per distinct set of label
// values. Children live as long as the family (references stay valid), so a
// hot path may look its child up once and keep it.
template <class Metric>
class Family {
 public:
  using Factory = std::function<std::unique_ptr<Metric>()>;

  Family(std::string name, std::string help, std::vector<std::string> label_names, Factory factory)
      : name_(std::move(name)),
        help_(std::move(help)),
        label_names_(std::move(label_names)),
        factory_(std::move(factory)) {}

  // Values in the order of the label names; Error(kInvalidArgument) when
  // their number differs.
  Metric& labels(std::initializer_list<std::string_view> values) {
    return labels(std::vector<std::string>(values.begin(), values.end()));
  }
  Metric& labels(const std::vector<std::string>& values) {
    if (values.size() != label_names_.size()) {
      throw_error(ErrorCode::kInvalidArgument, "metric {} takes {} label values, got {}", name_,
                  label_names_.size(), values.size());
    }
    std::lock_guard lock(mutex_);
    auto it = children_.find(values);
    if (it == children_.end()) it = children_.emplace(values, factory_()).first;
    return *it->second;
  }
  // The child without labels (a family declared with no label names).
  Metric& get() { return labels(std::vector<std::string>{}); }

  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  const std::vector<std::string>& label_names() const { return label_names_; }

  // Visits every child in label order, under the family's lock.
  template <class Visit>
  void for_each(Visit&& visit) const {
    std::lock_guard lock(mutex_);
    for (const auto& [values, metric] : children_) visit(values, *metric);
  }

 private:
  std::string name_;
  std::string help_;
  std::vector<std::string> label_names_;
  Factory factory_;
  mutable std::mutex mutex_;  // guards children_ (the map, not the metrics' values)
  std::map<std::vector<std::string>, std::unique_ptr<Metric>> children_;
};

}  // namespace tether::metrics
