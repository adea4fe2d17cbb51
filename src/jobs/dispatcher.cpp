#include "jobs/dispatcher.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <exception>
#include <map>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <fmt/format.h>

#include "common/error.h"
#include "jobs/item_outcome.h"
#include "store/blocking.h"

// GCC 12 takes the frame allocation of Asio's awaitable for a mismatched
// new/delete pair (see api_service.cpp).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace tether::jobs {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

void log_error(std::string_view what, const std::exception_ptr& failure) {
  std::fprintf(stderr, "%s\n", fmt::format("tether: dispatcher: {}: {}", what, describe_exception(failure)).c_str());
}

}  // namespace

struct Dispatcher::Impl : std::enable_shared_from_this<Dispatcher::Impl> {
  // Why a running item's invocation was cut short.
  enum class Interrupt { kNone, kCancelled, kLost, kStopping };

  struct InFlight {
    std::string key;  // "job_id/index"
    store::Claim claim;
    size_t model_idx = 0;
    std::shared_ptr<http::ClientWatch> watch = std::make_shared<http::ClientWatch>();
    Interrupt interrupt = Interrupt::kNone;
  };

  Impl(asio::any_io_executor executor, asio::thread_pool& pool_in, store::JobStore& store_in,
       std::vector<DispatchModel> models_in, InvokeFn invoke_in, GateFn gate_in, DispatcherOptions options_in)
      : strand(asio::make_strand(std::move(executor))),
        pool(pool_in),
        store(store_in),
        models(std::move(models_in)),
        invoke(std::move(invoke_in)),
        gate(std::move(gate_in)),
        options(std::move(options_in)),
        wake_timer(strand),
        drained_timer(strand),
        in_flight_per_model(models.size(), 0),
        backoff_until(models.size(), Clock::time_point::min()) {
    drained_timer.expires_at(Clock::time_point::max());  // waited on, only ever cancelled
    for (const DispatchModel& model : models) {
      std::vector<std::string> names{model.name};
      names.insert(names.end(), model.aliases.begin(), model.aliases.end());
      claim_names.push_back(std::move(names));
    }
  }

  std::chrono::milliseconds renew_interval() const {
    if (options.renew_interval.count() > 0) return options.renew_interval;
    return std::chrono::milliseconds(std::max<int64_t>(1, options.lease_ms / 3));
  }

  // --- on the strand ---
  asio::awaitable<void> run_loop();
  asio::awaitable<void> housekeeping();
  asio::awaitable<void> renew_leases();
  asio::awaitable<void> fill();
  void launch(store::Claim claim, size_t model_idx);
  asio::awaitable<void> run_item(uint64_t number, std::shared_ptr<InFlight> flight);
  asio::awaitable<void> settle(InFlight& flight, const api::InvokeResult& result);
  asio::awaitable<bool> write_complete(const store::Claim& claim, store::ItemOutcome outcome);
  asio::awaitable<bool> write_release(const store::Claim& claim, bool keep_attempt = false);
  asio::awaitable<void> stop_and_drain();
  void poke() {
    woken = true;
    wake_timer.cancel();
  }
  void count(uint64_t DispatcherStats::*field) {
    std::lock_guard lock(stats_mutex);
    ++(stats.*field);
  }

  asio::strand<asio::any_io_executor> strand;
  asio::thread_pool& pool;
  store::JobStore& store;
  const std::vector<DispatchModel> models;
  std::vector<std::vector<std::string>> claim_names;  // per model: its name and aliases
  const InvokeFn invoke;
  const GateFn gate;
  const DispatcherOptions options;

  // Strand only.
  asio::steady_timer wake_timer;     // the loop's wait between polls
  asio::steady_timer drained_timer;  // stop's wait for the last item
  bool woken = false;                // a wake() since the loop last looked
  bool stopping = false;
  bool loop_done = false;
  // By launch number: an item whose lease was lost may still wind down when
  // the store hands it to this dispatcher again.
  std::map<uint64_t, std::shared_ptr<InFlight>> in_flight;
  uint64_t next_flight = 0;
  std::vector<int32_t> in_flight_per_model;
  std::vector<Clock::time_point> backoff_until;

  std::atomic<bool> started{false};
  std::atomic<bool> stop_requested{false};
  mutable std::mutex stats_mutex;  // guards stats
  DispatcherStats stats;
};

asio::awaitable<void> Dispatcher::Impl::run_loop() {
  auto self = shared_from_this();
  Clock::time_point next_housekeeping = Clock::now();
  Clock::time_point next_renewal = Clock::now() + renew_interval();
  while (!stopping) {
    if (Clock::now() >= next_housekeeping) {
      co_await housekeeping();
      next_housekeeping = Clock::now() + options.housekeeping_interval;
    }
    if (!stopping && Clock::now() >= next_renewal) {
      co_await renew_leases();
      next_renewal = Clock::now() + renew_interval();
    }
    if (stopping) break;
    woken = false;
    co_await fill();
    if (stopping) break;
    if (woken) continue;  // something changed while the store was asked
    wake_timer.expires_at(std::min({Clock::now() + options.poll_interval, next_housekeeping, next_renewal}));
    co_await wake_timer.async_wait(kNoThrow);
  }
  loop_done = true;
  drained_timer.cancel();
}

asio::awaitable<void> Dispatcher::Impl::housekeeping() {
  std::exception_ptr failure;
  try {
    auto call = [this] {
      store.requeue_expired_leases();
      store.expire_overdue();
      return 0;
    };
    co_await store::run_blocking(pool, std::move(call));
  } catch (...) {
    failure = std::current_exception();
  }
  if (failure) log_error("housekeeping failed", failure);
}

asio::awaitable<void> Dispatcher::Impl::renew_leases() {
  std::vector<std::pair<std::string, int32_t>> items;
  for (const auto& [number, flight] : in_flight) {
    if (flight->interrupt != Interrupt::kLost) items.emplace_back(flight->claim.item.job_id, flight->claim.item.index);
  }
  if (items.empty()) co_return;
  std::optional<store::JobStore::Renewal> renewal;
  std::exception_ptr failure;
  try {
    auto call = [this, &items] { return store.renew(options.owner, items, options.lease_ms); };
    renewal = co_await store::run_blocking(pool, std::move(call));
  } catch (...) {
    failure = std::current_exception();
  }
  if (failure) {
    log_error("renewing leases failed", failure);
    co_return;
  }
  // An item that finished meanwhile is no longer here: nothing to stop.
  const auto interrupt = [this](const std::string& key, Interrupt why) {
    for (auto& [number, flight] : in_flight) {
      if (flight->key != key || flight->interrupt == Interrupt::kLost) continue;
      // Lost outranks the rest: nothing may be written for it any more.
      if (flight->interrupt == Interrupt::kNone || why == Interrupt::kLost) flight->interrupt = why;
      flight->watch->mark_gone();
    }
  };
  for (const std::string& key : renewal->cancelled) interrupt(key, Interrupt::kCancelled);
  for (const std::string& key : renewal->lost) interrupt(key, Interrupt::kLost);
}

asio::awaitable<void> Dispatcher::Impl::fill() {
  // Round-robin, one claim per model per pass, so that one model's backlog
  // does not starve the others of max_in_flight.
  std::vector<bool> exhausted(models.size(), false);
  bool progress = true;
  while (progress && !stopping) {
    progress = false;
    for (size_t model_idx = 0; model_idx < models.size() && !stopping; ++model_idx) {
      if (static_cast<int32_t>(in_flight.size()) >= options.max_in_flight) co_return;
      if (exhausted[model_idx] || Clock::now() < backoff_until[model_idx]) continue;
      bool open = false;
      try {
        open = gate(models[model_idx].name, in_flight_per_model[model_idx]);
      } catch (...) {
        log_error("the gate of " + models[model_idx].name + " failed", std::current_exception());
      }
      if (!open) continue;
      std::vector<store::Claim> claims;
      std::exception_ptr failure;
      try {
        auto call = [this, model_idx] {
          return store.claim(options.owner, claim_names[model_idx], 1, options.lease_ms);
        };
        claims = co_await store::run_blocking(pool, std::move(call));
      } catch (...) {
        failure = std::current_exception();
      }
      if (failure) {
        log_error("claiming failed", failure);
        co_return;
      }
      if (claims.empty()) {
        exhausted[model_idx] = true;
        continue;
      }
      for (store::Claim& claim : claims) {
        count(&DispatcherStats::claimed);
        if (stopping) {
          // stop() came while the store was asked: the item goes back untouched.
          if (co_await write_release(claim)) count(&DispatcherStats::released);
          continue;
        }
        launch(std::move(claim), model_idx);
        progress = true;
      }
    }
  }
}

void Dispatcher::Impl::launch(store::Claim claim, size_t model_idx) {
  auto flight = std::make_shared<InFlight>();
  flight->key = store::item_ref(claim.item.job_id, claim.item.index);
  flight->claim = std::move(claim);
  flight->model_idx = model_idx;
  const uint64_t number = next_flight++;
  in_flight[number] = flight;
  ++in_flight_per_model[model_idx];
  {
    std::lock_guard lock(stats_mutex);
    stats.in_flight = static_cast<int32_t>(in_flight.size());
  }
  asio::co_spawn(strand, run_item(number, std::move(flight)), asio::detached);
}

asio::awaitable<void> Dispatcher::Impl::run_item(uint64_t number, std::shared_ptr<InFlight> flight) {
  auto self = shared_from_this();
  api::InvokeResult result;
  std::exception_ptr failure;
  try {
    result = co_await invoke(flight->claim, flight->watch);
  } catch (...) {
    failure = std::current_exception();
  }
  if (failure) {
    // The invocation broke down (not an HTTP answer): a server error.
    log_error("running " + flight->key + " failed", failure);
    result = api::InvokeResult{};
  }
  std::exception_ptr settle_failure;
  try {
    co_await settle(*flight, result);
  } catch (...) {
    settle_failure = std::current_exception();
  }
  if (settle_failure) log_error("settling " + flight->key + " failed", settle_failure);
  in_flight.erase(number);
  --in_flight_per_model[flight->model_idx];
  {
    std::lock_guard lock(stats_mutex);
    stats.in_flight = static_cast<int32_t>(in_flight.size());
  }
  poke();  // room for another item
  drained_timer.cancel();
}

asio::awaitable<void> Dispatcher::Impl::settle(InFlight& flight, const api::InvokeResult& result) {
  const store::Claim& claim = flight.claim;
  switch (flight.interrupt) {
    case Interrupt::kLost:
      count(&DispatcherStats::abandoned);
      co_return;
    case Interrupt::kCancelled: {
      store::ItemOutcome outcome;
      outcome.status = store::ItemStatus::kCancelled;
      outcome.error = "the job was cancelled while the item ran";
      if (co_await write_complete(claim, std::move(outcome))) count(&DispatcherStats::cancelled);
      co_return;
    }
    case Interrupt::kStopping:
      if (result.status < 200 || result.status >= 300) {
        if (co_await write_release(claim)) count(&DispatcherStats::released);
        co_return;
      }
      break;  // it finished anyway: keep the answer
    case Interrupt::kNone: break;
  }
  // claim.item.attempts counts this run: releases after server errors keep
  // theirs, so the count survives restarts and other gateways.
  const ItemDecision decision = decide_item_outcome(result, claim.item.attempts, options.max_attempts);
  if (decision.action == ItemDecision::Action::kRelease) {
    if (decision.back_off) backoff_until[flight.model_idx] = Clock::now() + options.retry_backoff;
    if (co_await write_release(claim, decision.server_error)) count(&DispatcherStats::released);
    co_return;
  }
  const bool succeeded = decision.outcome.status == store::ItemStatus::kSucceeded;
  if (co_await write_complete(claim, decision.outcome)) {
    count(succeeded ? &DispatcherStats::succeeded : &DispatcherStats::failed);
  }
}

asio::awaitable<bool> Dispatcher::Impl::write_complete(const store::Claim& claim, store::ItemOutcome outcome) {
  bool written = false;
  std::exception_ptr failure;
  try {
    auto call = [this, &claim, &outcome] {
      return store.complete(options.owner, claim.item.job_id, claim.item.index, outcome);
    };
    written = co_await store::run_blocking(pool, std::move(call));
  } catch (...) {
    failure = std::current_exception();
  }
  if (failure) log_error("completing " + store::item_ref(claim.item.job_id, claim.item.index) + " failed", failure);
  if (!failure && !written) count(&DispatcherStats::abandoned);  // another worker holds it now
  co_return written;
}

asio::awaitable<bool> Dispatcher::Impl::write_release(const store::Claim& claim, bool keep_attempt) {
  bool written = false;
  std::exception_ptr failure;
  try {
    auto call = [this, &claim, keep_attempt] {
      return store.release(options.owner, claim.item.job_id, claim.item.index, keep_attempt);
    };
    written = co_await store::run_blocking(pool, std::move(call));
  } catch (...) {
    failure = std::current_exception();
  }
  if (failure) log_error("releasing " + store::item_ref(claim.item.job_id, claim.item.index) + " failed", failure);
  if (!failure && !written) count(&DispatcherStats::abandoned);
  co_return written;
}

asio::awaitable<void> Dispatcher::Impl::stop_and_drain() {
  auto self = shared_from_this();
  stopping = true;
  wake_timer.cancel();
  for (auto& [number, flight] : in_flight) {
    if (flight->interrupt == Interrupt::kNone) {
      flight->interrupt = Interrupt::kStopping;
      flight->watch->mark_gone();
    }
  }
  if (!started.load()) loop_done = true;
  while (!loop_done || !in_flight.empty()) co_await drained_timer.async_wait(kNoThrow);
}

Dispatcher::Dispatcher(asio::any_io_executor executor, asio::thread_pool& store_pool, store::JobStore& store,
                       std::vector<DispatchModel> models, InvokeFn invoke, GateFn gate, DispatcherOptions options) {
  if (options.owner.empty()) throw_error(ErrorCode::kInvalidArgument, "dispatcher: the lease owner is empty");
  if (models.empty()) throw_error(ErrorCode::kInvalidArgument, "dispatcher: no models to run jobs of");
  for (const DispatchModel& model : models) {
    if (model.name.empty()) throw_error(ErrorCode::kInvalidArgument, "dispatcher: a model without a name");
  }
  if (!invoke || !gate) throw_error(ErrorCode::kInvalidArgument, "dispatcher: invoke and gate are required");
  if (options.lease_ms < 1 || options.max_in_flight < 1 || options.max_attempts < 1 ||
      options.poll_interval.count() < 1 || options.housekeeping_interval.count() < 1 ||
      options.renew_interval.count() < 0 || options.retry_backoff.count() < 0) {
    throw_error(ErrorCode::kInvalidArgument,
                "dispatcher: lease_ms, max_in_flight, max_attempts, poll_interval and housekeeping_interval must "
                "be >= 1; renew_interval and retry_backoff >= 0");
  }
  impl_ = std::make_shared<Impl>(std::move(executor), store_pool, store, std::move(models), std::move(invoke),
                                 std::move(gate), std::move(options));
}

Dispatcher::~Dispatcher() {
  try {
    stop();
  } catch (...) {
    log_error("stopping failed", std::current_exception());
  }
}

void Dispatcher::start() {
  if (impl_->started.exchange(true)) throw_error(ErrorCode::kInvalidArgument, "dispatcher: started twice");
  asio::co_spawn(impl_->strand, impl_->run_loop(), asio::detached);
}

void Dispatcher::wake() {
  asio::post(impl_->strand, [impl = impl_] { impl->poke(); });
}

asio::awaitable<void> Dispatcher::async_stop() {
  std::shared_ptr<Impl> impl = impl_;
  impl->stop_requested = true;
  co_await asio::co_spawn(impl->strand, impl->stop_and_drain(), asio::use_awaitable);
}

void Dispatcher::stop() {
  // Never started: no loop and no items, nothing to wait for.
  if (!impl_->started.load() || impl_->stop_requested.exchange(true)) return;
  asio::co_spawn(impl_->strand, impl_->stop_and_drain(), asio::use_future).get();
}

DispatcherStats Dispatcher::stats() const {
  std::lock_guard lock(impl_->stats_mutex);
  return impl_->stats;
}

}  // namespace tether::jobs
