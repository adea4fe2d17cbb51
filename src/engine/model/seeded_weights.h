#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace tether::model {

// Reproducible Gaussian weights. Every row of every tensor has its own
// stream, derived from (seed, tensor name, row index) alone, so the values do
// not depend on how rows are shared among threads or on which other tensors a
// file holds.
class SeededWeights {
 public:
  SeededWeights(uint64_t seed, std::string_view tensor_name);

  // Fills `out` with normal(mean, std_dev) numbers from row `row_idx`'s stream.
  void fill_row(uint64_t row_idx, float mean, float std_dev, std::span<float> out) const;

  uint64_t stream_key() const { return stream_key_; }

 private:
  uint64_t stream_key_;
};

}  // namespace tether::model
