#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

namespace tether::metrics {

// Observations counted into buckets with fixed upper bounds (le), plus their
// sum and count; thread-safe and lock-free.
class Histogram {
 public:
  struct Snapshot {
    std::vector<double> bounds;
    std::vector<uint64_t> cumulative;  // per bound, then +Inf last (== count)
    double sum = 0;
    uint64_t count = 0;
  };

  // `bounds` ascending and finite; Error(kInvalidArgument) otherwise.
  explicit Histogram(std::vector<double> bounds);

  void observe(double value);
  Snapshot snapshot() const;
  const std::vector<double>& bounds() const { return bounds_; }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // bounds_.size() + 1 (the +Inf one)
  std::atomic<double> sum_{0.0};
  std::atomic<uint64_t> count_{0};
};

// Latency buckets in seconds, 1 ms to 60 s.
std::vector<double> latency_buckets_seconds();

}  // namespace tether::metrics
