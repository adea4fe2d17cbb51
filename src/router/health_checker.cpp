#include "router/health_checker.h"

#include <atomic>
#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace tether::router {

struct HealthChecker::State {
  boost::asio::strand<boost::asio::any_io_executor> strand;
  std::vector<std::shared_ptr<Upstream>> upstreams;
  Callback on_result;
  std::atomic<bool> started{false};
  std::atomic<bool> stopped{false};
  std::vector<std::shared_ptr<boost::asio::steady_timer>> timers;  // strand only

  explicit State(boost::asio::any_io_executor executor) : strand(boost::asio::make_strand(std::move(executor))) {}
};

namespace {

boost::asio::awaitable<void> probe_loop(std::shared_ptr<HealthChecker::State> state,
                                        std::shared_ptr<Upstream> upstream,
                                        std::shared_ptr<boost::asio::steady_timer> timer) {
  while (!state->stopped.load()) {
    const bool healthy = co_await upstream->probe();
    if (state->stopped.load()) break;
    state->on_result(upstream->id(), healthy);
    timer->expires_after(upstream->options().health_interval);
    boost::system::error_code ec;
    co_await timer->async_wait(boost::asio::redirect_error(boost::asio::use_awaitable, ec));
  }
}

}  // namespace

HealthChecker::HealthChecker(boost::asio::any_io_executor executor, std::vector<std::shared_ptr<Upstream>> upstreams,
                             Callback on_result)
    : state_(std::make_shared<State>(std::move(executor))) {
  state_->upstreams = std::move(upstreams);
  state_->on_result = std::move(on_result);
}

HealthChecker::~HealthChecker() { stop(); }

void HealthChecker::start() {
  if (state_->started.exchange(true) || state_->stopped.load()) return;
  boost::asio::post(state_->strand, [state = state_] {
    for (const auto& upstream : state->upstreams) {
      auto timer = std::make_shared<boost::asio::steady_timer>(state->strand);
      state->timers.push_back(timer);
      boost::asio::co_spawn(state->strand, probe_loop(state, upstream, timer), boost::asio::detached);
    }
  });
}

void HealthChecker::stop() {
  if (state_->stopped.exchange(true)) return;
  boost::asio::post(state_->strand, [state = state_] {
    for (const auto& timer : state->timers) timer->cancel();
  });
}

}  // namespace tether::router
