#include "metrics/histogram.h"

#include <algorithm>
#include <cmath>

#include "common/error.h"

namespace tether::metrics {

Histogram::Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)) {
  for (size_t bound_idx = 0; bound_idx < bounds_.size(); ++bound_idx) {
    if (!std::isfinite(bounds_[bound_idx]) || (bound_idx > 0 && bounds_[bound_idx] <= bounds_[bound_idx - 1])) {
      throw_error(ErrorCode::kInvalidArgument, "histogram bounds must be finite and strictly ascending");
    }
  }
  buckets_ = std::make_unique<std::atomic<uint64_t>[]>(bounds_.size() + 1);
  for (size_t bucket_idx = 0; bucket_idx <= bounds_.size(); ++bucket_idx) buckets_[bucket_idx] = 0;
}

void Histogram::observe(double value) {
  // The first bound >= value: Prometheus buckets are "less than or equal".
  const size_t bucket_idx =
      static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin());
  buckets_[bucket_idx].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot snapshot;
  snapshot.bounds = bounds_;
  uint64_t running = 0;
  for (size_t bucket_idx = 0; bucket_idx <= bounds_.size(); ++bucket_idx) {
    running += buckets_[bucket_idx].load(std::memory_order_relaxed);
    snapshot.cumulative.push_back(running);
  }
  // count is the +Inf bucket, so the exposition stays consistent even while
  // observations land during the snapshot.
  snapshot.count = running;
  snapshot.sum = sum_.load(std::memory_order_relaxed);
  return snapshot;
}

std::vector<double> latency_buckets_seconds() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
}

}  // namespace tether::metrics
