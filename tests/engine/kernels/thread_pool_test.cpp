#include "engine/kernels/thread_pool.h"

#include <atomic>
#include <stdexcept>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "common/error.h"

namespace tether::kernels {
namespace {

// Every item is visited exactly once, for many sizes and grains.
void expect_each_item_once(ThreadPool& pool, int64_t n_items, int64_t grain) {
  std::vector<std::atomic<int>> hits(static_cast<size_t>(n_items));
  std::atomic<bool> bad_thread{false};
  pool.parallel_for(n_items, grain, [&](int64_t begin, int64_t end, int thread_idx) {
    if (thread_idx < 0 || thread_idx >= pool.size() || begin >= end || begin < 0 ||
        end > n_items) {
      bad_thread = true;
    }
    for (int64_t i = begin; i < end; ++i) hits[static_cast<size_t>(i)].fetch_add(1);
  });
  EXPECT_FALSE(bad_thread);
  for (int64_t i = 0; i < n_items; ++i) {
    ASSERT_EQ(hits[static_cast<size_t>(i)].load(), 1)
        << "item " << i << " of " << n_items << ", grain " << grain;
  }
}

TEST(ThreadPoolTest, CoversAllItemsOnceForManySizes) {
  for (int threads : {1, 2, 3, 5}) {
    ThreadPool pool(threads);
    EXPECT_EQ(pool.size(), threads);
    for (int64_t n : {1, 2, 3, 7, 16, 17, 100, 1000, 4097}) {
      for (int64_t grain : {1, 4, 16, 5000}) expect_each_item_once(pool, n, grain);
    }
  }
}

TEST(ThreadPoolTest, ChunksAreMultiplesOfGrainExceptTheLast) {
  ThreadPool pool(3);
  std::atomic<bool> misaligned{false};
  pool.parallel_for(1003, 16, [&](int64_t begin, int64_t end, int) {
    if (begin % 16 != 0 || (end != 1003 && end % 16 != 0)) misaligned = true;
  });
  EXPECT_FALSE(misaligned);
}

TEST(ThreadPoolTest, EmptyAndNegativeRangesRunNothing) {
  ThreadPool pool(2);
  int calls = 0;
  pool.parallel_for(0, 1, [&](int64_t, int64_t, int) { ++calls; });
  pool.parallel_for(-5, 1, [&](int64_t, int64_t, int) { ++calls; });
  EXPECT_EQ(calls, 0);
  expect_each_item_once(pool, 10, 0);  // a grain below 1 counts as 1
}

TEST(ThreadPoolTest, SizeOneRunsOnTheCaller) {
  ThreadPool pool(1);
  const auto caller = std::this_thread::get_id();
  bool other_thread = false;
  pool.parallel_for(100, 1, [&](int64_t, int64_t, int idx) {
    if (std::this_thread::get_id() != caller || idx != 0) other_thread = true;
  });
  EXPECT_FALSE(other_thread);
}

TEST(ThreadPoolTest, ZeroMeansHardwareThreadsAndNegativeIsAnError) {
  ThreadPool pool(0);
  EXPECT_GE(pool.size(), 1);
  EXPECT_THROW(ThreadPool(-1), Error);
}

TEST(ThreadPoolTest, ReusedManyTimes) {
  ThreadPool pool(3);
  int64_t total = 0;
  for (int round = 0; round < 2000; ++round) {
    std::atomic<int64_t> sum{0};
    pool.parallel_for(64, 1, [&](int64_t b, int64_t e, int) {
      for (int64_t i = b; i < e; ++i) sum += i;
    });
    total += sum.load();
  }
  EXPECT_EQ(total, 2000 * (63 * 64 / 2));
}

TEST(ThreadPoolTest, WorkersTakePart) {
  ThreadPool pool(2);
  std::atomic<int> seen_mask{0};
  // Enough slow items that the worker surely picks some up.
  pool.parallel_for(64, 1, [&](int64_t, int64_t, int idx) {
    seen_mask |= 1 << idx;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  });
  EXPECT_EQ(seen_mask.load(), 3);
}

TEST(ThreadPoolTest, ExceptionPropagatesAndPoolStaysUsable) {
  ThreadPool pool(3);
  for (int round = 0; round < 3; ++round) {
    EXPECT_THROW(pool.parallel_for(100, 1,
                                   [&](int64_t b, int64_t e, int) {
                                     for (int64_t i = b; i < e; ++i) {
                                       if (i == 57) throw std::runtime_error("item 57");
                                     }
                                   }),
                 std::runtime_error);
    expect_each_item_once(pool, 333, 2);
  }
}

}  // namespace
}  // namespace tether::kernels
