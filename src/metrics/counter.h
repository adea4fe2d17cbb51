#pragma once

#include <atomic>

namespace tether::metrics {

// A monotonically increasing value; thread-safe.
class Counter {
 public:
  void inc(double amount = 1.0) {
    if (amount > 0) value_.fetch_add(amount, std::memory_order_relaxed);
  }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

}  // namespace tether::metrics
