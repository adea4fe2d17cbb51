#pragma once

#include <type_traits>
#include <utility>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace tether::store {

// Runs a blocking call (a database transaction) on `pool` and resumes the
// awaiting coroutine on its own executor with the result, or the exception
// the call threw. Keeps fsyncs and lock waits off the network threads.
//
// Callers: pass `fn` as a named local (std::move(call)), never as a lambda
// written inside the co_await expression: GCC 12 destroys such a temporary
// twice (see tests/store/run_blocking_test.cpp).
template <typename Fn>
boost::asio::awaitable<std::invoke_result_t<Fn&>> run_blocking(boost::asio::thread_pool& pool, Fn fn) {
  using Result = std::invoke_result_t<Fn&>;
  // A named local, moved in: GCC 12 destroys a lambda that is a temporary of
  // a co_await expression twice (and with it whatever `fn` captured).
  auto call = [fn = std::move(fn)]() mutable -> boost::asio::awaitable<Result> { co_return fn(); };
  co_return co_await boost::asio::co_spawn(pool.get_executor(), std::move(call), boost::asio::use_awaitable);
}

}  // namespace tether::store
