#include "store/blocking.h"

#include <atomic>
#include <future>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

namespace tether::store {
namespace {

template <class T>
T run_sync(boost::asio::io_context& io, boost::asio::awaitable<T> task) {
  std::future<T> result = boost::asio::co_spawn(io, std::move(task), boost::asio::use_future);
  io.run();
  return result.get();
}

// Counts live copies: a double destruction drives it below zero.
struct Tracked {
  static inline std::atomic<int> live{0};
  std::string payload = std::string(64, 'x');  // on the heap: a double free would also crash
  Tracked() { ++live; }
  Tracked(const Tracked& other) : payload(other.payload) { ++live; }
  Tracked(Tracked&& other) noexcept : payload(std::move(other.payload)) { ++live; }
  ~Tracked() { --live; }
};

TEST(RunBlockingTest, RunsOnThePoolAndDestroysWhatTheCallCapturedOnce) {
  boost::asio::thread_pool pool(1);
  boost::asio::io_context io;
  Tracked::live = 0;
  const auto caller = std::this_thread::get_id();
  auto task = [&]() -> boost::asio::awaitable<size_t> {
    Tracked tracked;
    auto call = [tracked, caller] {
      EXPECT_NE(std::this_thread::get_id(), caller);
      return tracked.payload.size();
    };
    co_return co_await run_blocking(pool, std::move(call));
  };
  EXPECT_EQ(run_sync(io, task()), 64u);
  // The pool's coroutine frame (holding a copy) may end just after the
  // result reached the caller: count once the pool is done.
  pool.join();
  EXPECT_EQ(Tracked::live.load(), 0);
}

TEST(RunBlockingTest, RethrowsWhatTheCallThrew) {
  boost::asio::thread_pool pool(1);
  boost::asio::io_context io;
  auto task = [&]() -> boost::asio::awaitable<std::string> {
    auto call = []() -> int { throw std::runtime_error("the database is gone"); };
    try {
      co_await run_blocking(pool, std::move(call));
    } catch (const std::runtime_error& e) {
      co_return e.what();
    }
    co_return "no exception";
  };
  EXPECT_EQ(run_sync(io, task()), "the database is gone");
}

TEST(RunBlockingTest, CallsReturningNothing) {
  boost::asio::thread_pool pool(1);
  boost::asio::io_context io;
  auto shared = std::make_shared<int>(0);
  auto task = [&]() -> boost::asio::awaitable<int> {
    auto call = [shared] { *shared = 7; };
    co_await run_blocking(pool, std::move(call));
    co_return *shared;
  };
  EXPECT_EQ(run_sync(io, task()), 7);
  pool.join();
  EXPECT_EQ(shared.use_count(), 1);  // the captured copy released exactly once
}

}  // namespace
}  // namespace tether::store
