#include "jobs/webhook_deliverer.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <map>
#include <mutex>
#include <set>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>

#include "common/error.h"
#include "http/client.h"
#include "jobs/webhook_signer.h"
#include "store/blocking.h"

namespace tether::jobs {

namespace asio = boost::asio;

namespace {

constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);
constexpr size_t kMaxIdleClientsPerTarget = 4;
constexpr size_t kMaxErrorBodyBytes = 200;

// One POST under way; stop() and its deadline cancel it through `cancel`.
struct Send {
  asio::cancellation_signal cancel;
  bool timed_out = false;
  bool stopped = false;
};

int64_t system_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// initial * 2^tries_before, capped at max (no overflow for any count).
int64_t backoff_ms(const WebhookDelivererOptions& options, int32_t tries_before) {
  const int64_t cap = options.max_backoff.count();
  int64_t backoff = options.initial_backoff.count();
  for (int32_t try_idx = 0; try_idx < tries_before && backoff < cap; ++try_idx) backoff *= 2;
  return std::min(backoff, cap);
}

// What a receiver answered, fit for last_error: printable ASCII, bounded.
std::string describe_status(const http::ClientResponse& response) {
  std::string text = fmt::format("HTTP {}", response.status);
  if (response.body.empty()) return text;
  text += ": ";
  for (size_t byte_idx = 0; byte_idx < response.body.size() && byte_idx < kMaxErrorBodyBytes; ++byte_idx) {
    const unsigned char c = static_cast<unsigned char>(response.body[byte_idx]);
    text.push_back(c >= 0x20 && c < 0x7f ? static_cast<char>(c) : ' ');
  }
  if (response.body.size() > kMaxErrorBodyBytes) text += "...";
  return text;
}

void validate(const WebhookDelivererOptions& options) {
  if (options.owner.empty()) throw_error(ErrorCode::kInvalidArgument, "webhook deliverer: owner is empty");
  if (options.poll_interval.count() <= 0 || options.lease.count() <= 0 || options.request_timeout.count() <= 0) {
    throw_error(ErrorCode::kInvalidArgument,
                "webhook deliverer: poll_interval, lease and request_timeout must be positive");
  }
  if (options.batch_limit < 1 || options.max_in_flight < 1 || options.max_attempts < 1) {
    throw_error(ErrorCode::kInvalidArgument,
                "webhook deliverer: batch_limit, max_in_flight and max_attempts must be at least 1");
  }
  if (options.initial_backoff.count() <= 0 || options.max_backoff < options.initial_backoff) {
    throw_error(ErrorCode::kInvalidArgument,
                "webhook deliverer: initial_backoff must be positive and at most max_backoff");
  }
}

}  // namespace

struct WebhookDeliverer::State {
  State(asio::any_io_executor executor, store::JobStore& store_ref, asio::thread_pool& pool_ref,
        WebhookAllowlist allowlist_value, SecretFor secret_for_fn, WebhookDelivererOptions options_value)
      : strand(asio::make_strand(std::move(executor))),
        store(store_ref),
        pool(pool_ref),
        allowlist(std::move(allowlist_value)),
        secret_for(std::move(secret_for_fn)),
        options(std::move(options_value)),
        poll_timer(strand) {}

  asio::strand<asio::any_io_executor> strand;
  store::JobStore& store;
  asio::thread_pool& pool;
  const WebhookAllowlist allowlist;
  const SecretFor secret_for;
  const WebhookDelivererOptions options;
  asio::steady_timer poll_timer;

  // Strand only.
  bool stopping = false;
  bool wake_pending = false;     // wake() came while the loop was not waiting
  bool waiting_for_room = false;  // the loop waits for a send to end before claiming more
  int32_t in_flight = 0;
  std::set<std::shared_ptr<Send>> sends;
  // Kept-alive connections by "host:port", each client idle.
  std::map<std::string, std::vector<std::unique_ptr<http::HttpClient>>> idle_clients;

  // `tasks` (the loop and the sends not yet ended) lets stop() wait; the
  // flags keep start() and stop() from racing. Guarded by `mutex`.
  std::mutex mutex;
  std::condition_variable tasks_ended;
  int tasks = 0;
  bool started = false;
  bool stop_requested = false;

  int64_t now_ms() const { return options.clock ? options.clock() : system_now_ms(); }

  void log(const std::string& line) const {
    if (options.log) fmt::print(stderr, "tether: webhooks: {}\n", line);
  }

  void task_begin() {
    std::lock_guard lock(mutex);
    ++tasks;
  }
  void task_end() {
    std::lock_guard lock(mutex);
    if (--tasks == 0) tasks_ended.notify_all();
  }

  std::unique_ptr<http::HttpClient> take_client(const WebhookUrl& url) {
    auto& idle = idle_clients[fmt::format("{}:{}", url.host, url.port)];
    if (!idle.empty()) {
      std::unique_ptr<http::HttpClient> client = std::move(idle.back());
      idle.pop_back();
      return client;
    }
    http::ClientOptions client_options;
    client_options.connect_timeout = options.request_timeout;
    client_options.io_timeout = options.request_timeout;
    client_options.response_timeout = options.request_timeout;
    client_options.max_body_bytes = 1024 * 1024;  // a receiver's answer is read only for last_error
    return std::make_unique<http::HttpClient>(strand, url.host, url.port, client_options);
  }

  void give_back_client(const WebhookUrl& url, std::unique_ptr<http::HttpClient> client) {
    if (stopping || !client->idle_connection()) return;
    auto& idle = idle_clients[fmt::format("{}:{}", url.host, url.port)];
    if (idle.size() < kMaxIdleClientsPerTarget) idle.push_back(std::move(client));
  }
};

namespace {

using State = WebhookDeliverer::State;

// GCC 12 destroys a lambda passed as a prvalue to a coroutine in a co_await
// expression twice (its captures too): every lambda given to run_blocking
// below is a named local, moved in.

asio::awaitable<void> record_delivered(std::shared_ptr<State> state, store::Delivery delivery) {
  try {
    auto mark = [state, delivery] { state->store.mark_delivered(delivery.event_id, delivery.url); };
    co_await store::run_blocking(state->pool, std::move(mark));
  } catch (const std::exception& e) {
    // The delivery stays claimed; when its lease ends it is sent again.
    state->log(fmt::format("recording delivery {} to {} failed: {}", delivery.event_id, delivery.url, e.what()));
  }
}

// A failed try: retried after the backoff, or dead on the last try (or at
// once when `dead`: retrying cannot help).
asio::awaitable<void> record_failure(std::shared_ptr<State> state, store::Delivery delivery, std::string error,
                                     bool dead) {
  const int32_t tries = delivery.attempts + 1;
  dead = dead || tries >= state->options.max_attempts;
  const int64_t wait_ms = backoff_ms(state->options, delivery.attempts);
  const int64_t next_attempt_ms = state->now_ms() + wait_ms;
  state->log(fmt::format("{} event {} of {} to {}: try {} failed: {}{}", delivery.event_type, delivery.event_id,
                         delivery.job_id, delivery.url, tries, error,
                         dead ? "; giving up" : fmt::format("; next try in {} ms", wait_ms)));
  try {
    auto mark = [state, delivery, error, next_attempt_ms, dead] {
      state->store.mark_attempt_failed(delivery.event_id, delivery.url, error, next_attempt_ms, dead);
    };
    co_await store::run_blocking(state->pool, std::move(mark));
  } catch (const std::exception& e) {
    state->log(fmt::format("recording a failed try of {} to {} failed: {}", delivery.event_id, delivery.url,
                           e.what()));
  }
}

asio::awaitable<void> deliver(std::shared_ptr<State> state, store::Delivery delivery) {
  if (std::optional<std::string> refusal = state->allowlist.check(delivery.url)) {
    co_await record_failure(state, std::move(delivery), std::move(*refusal), true);
    co_return;
  }
  const WebhookUrl url = parse_webhook_url(delivery.url);  // the allowlist parsed it already
  if (url.scheme == "https") {
    std::string error = fmt::format("webhook URL \"{}\": https targets are not supported yet", delivery.url);
    co_await record_failure(state, std::move(delivery), std::move(error), true);
    co_return;
  }
  std::string secret;
  std::optional<std::string> secret_error;
  try {
    secret = state->secret_for(delivery);
  } catch (const std::exception& e) {
    secret_error = fmt::format("no signing secret: {}", e.what());
  }
  if (secret_error) {
    co_await record_failure(state, std::move(delivery), std::move(*secret_error), false);
    co_return;
  }
  if (state->stopping) co_return;

  const int64_t timestamp_s = state->now_ms() / 1000;
  http::HeaderList headers;
  headers.emplace_back("content-type", "application/json");
  headers.emplace_back("x-tether-event-id", delivery.event_id);
  headers.emplace_back("x-tether-timestamp", std::to_string(timestamp_s));
  headers.emplace_back("x-tether-signature", sign(secret, timestamp_s, delivery.body));

  std::unique_ptr<http::HttpClient> client = state->take_client(url);
  auto send = std::make_shared<Send>();
  state->sends.insert(send);
  asio::steady_timer deadline(state->strand, state->options.request_timeout);
  deadline.async_wait([send](const boost::system::error_code& ec) {
    if (ec) return;
    send->timed_out = true;
    send->cancel.emit(asio::cancellation_type::terminal);
  });
  // The request runs as a child coroutine so that cancelling it (deadline,
  // stop) leaves this one free to record the outcome.
  auto [failure, response] = co_await asio::co_spawn(
      state->strand, client->request("POST", url.target, delivery.body, std::move(headers)),
      asio::bind_cancellation_slot(send->cancel.slot(), kUseTuple));
  deadline.cancel();
  state->sends.erase(send);
  if (send->stopped) co_return;  // claimed still: sent again when the lease ends

  if (failure) {
    std::string error = send->timed_out
                            ? fmt::format("no response within {} ms", state->options.request_timeout.count())
                            : describe_exception(failure);
    co_await record_failure(state, std::move(delivery), std::move(error), false);
    co_return;
  }
  state->give_back_client(url, std::move(client));
  if (response.status >= 200 && response.status < 300) {
    co_await record_delivered(state, std::move(delivery));
  } else {
    std::string error = describe_status(response);
    co_await record_failure(state, std::move(delivery), std::move(error), false);
  }
}

void launch(const std::shared_ptr<State>& state, store::Delivery delivery) {
  ++state->in_flight;
  state->task_begin();
  asio::co_spawn(state->strand, deliver(state, std::move(delivery)),
                 asio::bind_executor(state->strand, [state](const std::exception_ptr& failure) {
                   if (failure) state->log("a delivery ended unexpectedly: " + describe_exception(failure));
                   --state->in_flight;
                   if (state->waiting_for_room && !state->stopping) {
                     state->wake_pending = true;
                     state->poll_timer.cancel();
                   }
                   state->task_end();
                 }));
}

asio::awaitable<void> poll_loop(std::shared_ptr<State> state) {
  const WebhookDelivererOptions& options = state->options;
  while (!state->stopping) {
    const int32_t room = options.max_in_flight - state->in_flight;
    bool full_batch = false;
    if (room > 0) {
      state->wake_pending = false;
      const int32_t limit = std::min(options.batch_limit, room);
      std::vector<store::Delivery> claimed;
      try {
        auto claim = [state, limit] {
          return state->store.claim_deliveries(state->options.owner, limit, state->options.lease.count());
        };
        claimed = co_await store::run_blocking(state->pool, std::move(claim));
      } catch (const std::exception& e) {
        state->log(fmt::format("claiming deliveries failed: {}", e.what()));
      }
      if (state->stopping) break;  // what was claimed is sent again when its lease ends
      for (store::Delivery& delivery : claimed) launch(state, std::move(delivery));
      full_batch = static_cast<int32_t>(claimed.size()) == limit;
    }
    const bool has_room = state->in_flight < options.max_in_flight;
    if (has_room && (full_batch || state->wake_pending)) continue;
    state->waiting_for_room = !has_room || full_batch;
    state->poll_timer.expires_after(options.poll_interval);
    co_await state->poll_timer.async_wait(kUseTuple);
    state->waiting_for_room = false;
  }
}

}  // namespace

WebhookDeliverer::WebhookDeliverer(asio::any_io_executor executor, store::JobStore& store, asio::thread_pool& pool,
                                   WebhookAllowlist allowlist, SecretFor secret_for, WebhookDelivererOptions options) {
  validate(options);
  if (!secret_for) throw_error(ErrorCode::kInvalidArgument, "webhook deliverer: secret_for is not set");
  state_ = std::make_shared<State>(std::move(executor), store, pool, std::move(allowlist), std::move(secret_for),
                                   std::move(options));
}

WebhookDeliverer::~WebhookDeliverer() { stop(); }

void WebhookDeliverer::start() {
  {
    std::lock_guard lock(state_->mutex);
    if (state_->started || state_->stop_requested) return;
    state_->started = true;
    ++state_->tasks;
  }
  std::shared_ptr<State> state = state_;
  asio::co_spawn(state->strand, poll_loop(state),
                 asio::bind_executor(state->strand, [state](const std::exception_ptr& failure) {
                   if (failure) state->log("the polling loop ended unexpectedly: " + describe_exception(failure));
                   state->task_end();
                 }));
}

void WebhookDeliverer::stop() {
  {
    std::lock_guard lock(state_->mutex);
    state_->stop_requested = true;
    // Nothing runs (never started, or all ended): nothing to cancel or wait for.
    if (!state_->started || state_->tasks == 0) return;
  }
  std::shared_ptr<State> state = state_;
  asio::dispatch(state->strand, [state] {
    state->stopping = true;
    state->poll_timer.cancel();
    for (const auto& send : state->sends) {
      send->stopped = true;
      send->cancel.emit(asio::cancellation_type::terminal);
    }
    state->idle_clients.clear();
  });
  if (state->strand.running_in_this_thread()) return;
  std::unique_lock lock(state->mutex);
  state->tasks_ended.wait(lock, [&] { return state->tasks == 0; });
}

void WebhookDeliverer::wake() {
  {
    std::lock_guard lock(state_->mutex);
    if (!state_->started || state_->stop_requested) return;
  }
  std::shared_ptr<State> state = state_;
  asio::dispatch(state->strand, [state] {
    state->wake_pending = true;
    state->poll_timer.cancel();
  });
}

}  // namespace tether::jobs
