#include "engine/kernels/memory_bandwidth.h"

#include <gtest/gtest.h>

#include "common/error.h"

namespace tether::kernels {
namespace {

TEST(MemoryBandwidthTest, ReturnsASanePositiveFigure) {
  ThreadPool pool(2);
  // Small buffer: the test checks the plumbing, not the machine.
  const double gbps = measure_read_bandwidth_gbps(pool, size_t{16} << 20, 3);
  EXPECT_GT(gbps, 0.1);
  EXPECT_LT(gbps, 10000.0);
}

TEST(MemoryBandwidthTest, RejectsBadArguments) {
  ThreadPool pool(1);
  EXPECT_THROW(measure_read_bandwidth_gbps(pool, 100, 3), Error);
  EXPECT_THROW(measure_read_bandwidth_gbps(pool, size_t{1} << 20, 0), Error);
}

}  // namespace
}  // namespace tether::kernels
