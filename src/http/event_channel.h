#pragma once

#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "http/exchange.h"

namespace tether::http {

// A queue from any thread into one handler: the engine's scheduler thread
// push()es tokens (never blocking), the handler co_awaits next(). next()
// returns nullopt as soon as the client is gone, or once the channel is
// closed and drained. Copies share one queue, so a callback on another
// thread may hold a copy that outlives the handler; pushes then go nowhere.
// The server's io_context must outlive every push (in `tether serve` the
// Server is built before the Engine, so it is destroyed after it).
template <class T>
class EventChannel {
 public:
  explicit EventChannel(Exchange& exchange)
      : state_(std::make_shared<State>(exchange.executor())), watch_(exchange.watch()) {
    std::weak_ptr<State> weak = state_;
    watch_->add_listener([weak] {
      if (auto state = weak.lock()) state->timer.cancel();
    });
  }

  // Any thread; never blocks.
  void push(T value) const {
    {
      std::lock_guard lock(state_->mutex);
      if (state_->closed) return;
      state_->items.push_back(std::move(value));
    }
    wake();
  }

  // Any thread: no more items; next() returns nullopt after the queued ones.
  void close() const {
    {
      std::lock_guard lock(state_->mutex);
      state_->closed = true;
    }
    wake();
  }

  // On the exchange's strand (the handler).
  boost::asio::awaitable<std::optional<T>> next() const {
    for (;;) {
      if (watch_->gone()) co_return std::nullopt;
      {
        std::lock_guard lock(state_->mutex);
        if (!state_->items.empty()) {
          std::optional<T> value(std::move(state_->items.front()));
          state_->items.pop_front();
          co_return value;
        }
        if (state_->closed) co_return std::nullopt;
      }
      // A push that lands between the check above and this wait posts its
      // cancel to the strand, which runs only after this coroutine suspends.
      state_->timer.expires_at(std::chrono::steady_clock::time_point::max());
      co_await state_->timer.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
    }
  }

 private:
  struct State {
    explicit State(const boost::asio::any_io_executor& executor) : timer(executor) {}
    std::mutex mutex;  // guards items and closed
    std::deque<T> items;
    bool closed = false;
    boost::asio::steady_timer timer;  // strand only: the handler's wait
  };

  void wake() const {
    std::shared_ptr<State> state = state_;
    boost::asio::post(state->timer.get_executor(), [state] { state->timer.cancel(); });
  }

  std::shared_ptr<State> state_;
  std::shared_ptr<ClientWatch> watch_;
};

}  // namespace tether::http
