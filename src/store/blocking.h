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
template <typename Fn>
boost::asio::awaitable<std::invoke_result_t<Fn&>> run_blocking(boost::asio::thread_pool& pool, Fn fn) {
  using Result = std::invoke_result_t<Fn&>;
  co_return co_await boost::asio::co_spawn(
      pool.get_executor(),
      [fn = std::move(fn)]() mutable -> boost::asio::awaitable<Result> { co_return fn(); },
      boost::asio::use_awaitable);
}

}  // namespace tether::store
