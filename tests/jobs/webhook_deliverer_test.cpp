#include "jobs/webhook_deliverer.h"

#include <chrono>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <gtest/gtest.h>

#include "common/error.h"
#include "jobs/fake_delivery_store.h"
#include "jobs/webhook_receiver.h"
#include "jobs/webhook_signer.h"

namespace tether::jobs {
namespace {

using namespace std::chrono_literals;
using store::DeliveryStatus;
using testing::FakeDeliveryStore;
using testing::ManualClock;
using testing::WebhookReceiver;

constexpr char kSecret[] = "whsec_receiver";
constexpr char kBody[] = R"({"type":"tether.model.batch.succeeded","payload":{"requestId":"job_1"}})";

// Polls `done` every 2 ms for up to `limit`.
template <typename Predicate>
bool wait_until(Predicate done, std::chrono::milliseconds limit = 5s) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (done()) return true;
    std::this_thread::sleep_for(2ms);
  }
  return done();
}

// Tiny backoffs and a short poll: retries happen within milliseconds.
WebhookDelivererOptions fast_options() {
  WebhookDelivererOptions options;
  options.owner = "test-deliverer";
  options.poll_interval = 5ms;
  options.initial_backoff = 1ms;
  options.max_backoff = 4ms;
  options.request_timeout = 2s;
  options.log = false;
  return options;
}

class WebhookDelivererTest : public ::testing::Test {
 protected:
  WebhookDelivererTest() : io_thread_([this] { io_.run(); }) {}

  ~WebhookDelivererTest() override {
    deliverer_.reset();  // stops while the executor still runs
    work_.reset();
    io_thread_.join();
  }

  // Starts a deliverer over `store` that may send to the receiver's /hooks,
  // /slow and /hang (and to `extra_allowed`).
  WebhookDeliverer& start(store::JobStore& store, WebhookDelivererOptions options,
                          std::vector<std::string> extra_allowed = {}) {
    std::vector<std::string> allowed = {receiver_.url("/hooks"), receiver_.url("/slow"), receiver_.url("/hang")};
    allowed.insert(allowed.end(), extra_allowed.begin(), extra_allowed.end());
    deliverer_ = std::make_unique<WebhookDeliverer>(
        io_.get_executor(), store, pool_, WebhookAllowlist(allowed),
        [this](const store::Delivery& delivery) {
          ++secret_lookups_;
          return std::string(kSecret);
        },
        std::move(options));
    deliverer_->start();
    return *deliverer_;
  }

  // The store lives as long as the fixture: past the deliverer.
  FakeDeliveryStore& make_store(bool manual_clock = false) {
    store_ = manual_clock ? std::make_unique<FakeDeliveryStore>([this] { return clock_.now_ms(); })
                          : std::make_unique<FakeDeliveryStore>();
    return *store_;
  }

  static bool has_status(FakeDeliveryStore& store, const std::string& event_id, const std::string& url,
                         DeliveryStatus status) {
    auto delivery = store.find(event_id, url);
    return delivery && delivery->status == status;
  }

  WebhookReceiver receiver_{kSecret};
  boost::asio::thread_pool pool_{2};
  boost::asio::io_context io_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_{io_.get_executor()};
  std::thread io_thread_;
  std::atomic<int> secret_lookups_{0};
  ManualClock clock_;
  std::unique_ptr<FakeDeliveryStore> store_;
  std::unique_ptr<WebhookDeliverer> deliverer_;  // last: destroyed (stopped) first
};

TEST_F(WebhookDelivererTest, RetriesUntilTheReceiverAcceptsWithTheSameEventId) {
  receiver_.script({500, 500});
  FakeDeliveryStore& store = make_store();
  const std::string url = receiver_.url("/hooks");
  store.add("evt_000000000000000000000001", url, kBody);
  start(store, fast_options());

  ASSERT_TRUE(wait_until(
      [&] { return has_status(store, "evt_000000000000000000000001", url, DeliveryStatus::kDelivered); }));
  const auto seen = receiver_.received();
  ASSERT_EQ(seen.size(), 3u);
  for (const auto& request : seen) {
    EXPECT_EQ(request.event_id, "evt_000000000000000000000001");
    EXPECT_TRUE(request.signature_valid) << request.signature << " at " << request.timestamp;
    EXPECT_EQ(request.content_type, "application/json");
    EXPECT_EQ(request.body, kBody);
    EXPECT_EQ(request.path, "/hooks");
  }
  const auto delivery = store.find("evt_000000000000000000000001", url);
  EXPECT_EQ(delivery->attempts, 2);  // the failed tries
  const auto failed = store.failed_tries();
  ASSERT_EQ(failed.size(), 2u);
  EXPECT_EQ(failed[0].error, "HTTP 500: try again");
  EXPECT_FALSE(failed[1].dead);
  EXPECT_EQ(store.delivered_marks(), 1);
  EXPECT_GE(secret_lookups_.load(), 3);
}

TEST_F(WebhookDelivererTest, BackoffDoublesUpToItsCapThenTheDeliveryGoesDead) {
  ManualClock& clock = clock_;
  FakeDeliveryStore& store = make_store(/*manual_clock=*/true);
  WebhookReceiver receiver(kSecret, [&] { return clock.now_ms() / 1000; });
  receiver.script({500, 502, 503, 500, 404, 200});
  const std::string url = receiver.url("/hooks");
  store.add("evt_backoff", url, kBody);
  WebhookDelivererOptions options = fast_options();
  options.clock = [&] { return clock.now_ms(); };
  options.initial_backoff = 100ms;
  options.max_backoff = 300ms;
  options.max_attempts = 5;
  WebhookDeliverer& deliverer = start(store, options, {receiver.url("/hooks")});

  const std::vector<int64_t> expected_waits = {100, 200, 300, 300, 300};
  for (size_t try_idx = 0; try_idx < expected_waits.size(); ++try_idx) {
    ASSERT_TRUE(wait_until([&] { return store.failed_tries().size() == try_idx + 1; })) << "try " << try_idx + 1;
    const auto failed = store.failed_tries().back();
    EXPECT_EQ(failed.next_attempt_ms - failed.at_ms, expected_waits[try_idx]) << "try " << try_idx + 1;
    EXPECT_EQ(failed.dead, try_idx + 1 == expected_waits.size());
    const auto seen = receiver.received();
    ASSERT_EQ(seen.size(), try_idx + 1);
    EXPECT_TRUE(seen.back().signature_valid);
    EXPECT_EQ(seen.back().timestamp, std::to_string(clock.now_ms() / 1000));
    // Not due yet: several polls pass without another try.
    std::this_thread::sleep_for(30ms);
    EXPECT_EQ(receiver.count(), try_idx + 1);
    clock.set(failed.next_attempt_ms);
    deliverer.wake();
  }
  const auto delivery = store.find("evt_backoff", url);
  EXPECT_EQ(delivery->status, DeliveryStatus::kDead);
  EXPECT_EQ(delivery->attempts, 5);
  EXPECT_EQ(delivery->last_error, "HTTP 404: try again");
  // Dead: never sent again, however much time passes.
  clock.advance(3'600'000);
  deliverer.wake();
  std::this_thread::sleep_for(30ms);
  EXPECT_EQ(receiver.count(), 5u);
  deliverer_.reset();  // before `receiver` goes
}

TEST_F(WebhookDelivererTest, DeadLettersAfterMaxAttempts) {
  receiver_.script(std::vector<int>(10, 500));
  FakeDeliveryStore& store = make_store();
  const std::string url = receiver_.url("/hooks");
  store.add("evt_dead", url, kBody);
  WebhookDelivererOptions options = fast_options();
  options.max_attempts = 3;
  start(store, options);

  ASSERT_TRUE(wait_until([&] { return has_status(store, "evt_dead", url, DeliveryStatus::kDead); }));
  std::this_thread::sleep_for(30ms);
  EXPECT_EQ(receiver_.count(), 3u);
  const auto failed = store.failed_tries();
  ASSERT_EQ(failed.size(), 3u);
  EXPECT_FALSE(failed[0].dead);
  EXPECT_FALSE(failed[1].dead);
  EXPECT_TRUE(failed[2].dead);
  EXPECT_EQ(store.find("evt_dead", url)->attempts, 3);
}

TEST_F(WebhookDelivererTest, ATargetOffTheAllowlistIsNeverContactedAndGoesDead) {
  FakeDeliveryStore& store = make_store();
  const std::string off_path = receiver_.url("/other");
  const std::string prefix_trick = receiver_.url("/hooksx");
  const std::string other_host = "http://localhost:" + std::to_string(receiver_.port()) + "/hooks";
  const std::string malformed = "not a url";
  for (const auto& url : {off_path, prefix_trick, other_host, malformed}) store.add("evt_off", url, kBody);
  start(store, fast_options());

  for (const auto& url : {off_path, prefix_trick, other_host, malformed}) {
    ASSERT_TRUE(wait_until([&] { return has_status(store, "evt_off", url, DeliveryStatus::kDead); })) << url;
    const auto delivery = store.find("evt_off", url);
    EXPECT_EQ(delivery->attempts, 1);
    EXPECT_NE(delivery->last_error.find(url), std::string::npos) << delivery->last_error;
  }
  EXPECT_NE(store.find("evt_off", off_path)->last_error.find("allowlist"), std::string::npos);
  EXPECT_EQ(receiver_.count(), 0u);
}

TEST_F(WebhookDelivererTest, HttpsTargetsGoDeadWithAClearError) {
  FakeDeliveryStore& store = make_store();
  const std::string url = "https://127.0.0.1:" + std::to_string(receiver_.port()) + "/hooks";
  store.add("evt_tls", url, kBody);
  start(store, fast_options(), {"https://127.0.0.1:" + std::to_string(receiver_.port()) + "/hooks"});

  ASSERT_TRUE(wait_until([&] { return has_status(store, "evt_tls", url, DeliveryStatus::kDead); }));
  EXPECT_NE(store.find("evt_tls", url)->last_error.find("https"), std::string::npos);
  EXPECT_EQ(receiver_.count(), 0u);
}

TEST_F(WebhookDelivererTest, AnUnreachablePortCountsAsAFailedTry) {
  FakeDeliveryStore& store = make_store();
  const std::string url = "http://127.0.0.1:" + std::to_string(testing::closed_port()) + "/hooks";
  store.add("evt_unreachable", url, kBody);
  WebhookDelivererOptions options = fast_options();
  options.max_attempts = 2;
  start(store, options, {url});

  ASSERT_TRUE(wait_until([&] { return has_status(store, "evt_unreachable", url, DeliveryStatus::kDead); }));
  const auto failed = store.failed_tries();
  ASSERT_EQ(failed.size(), 2u);
  EXPECT_FALSE(failed[0].dead);
  EXPECT_NE(failed[0].error.find("cannot connect"), std::string::npos) << failed[0].error;
  EXPECT_TRUE(failed[1].dead);
}

TEST_F(WebhookDelivererTest, ASilentReceiverTimesOutAsAFailedTry) {
  FakeDeliveryStore& store = make_store();
  const std::string url = receiver_.url("/hang");
  store.add("evt_silent", url, kBody);
  WebhookDelivererOptions options = fast_options();
  options.request_timeout = 100ms;
  options.max_attempts = 1;
  start(store, options);

  ASSERT_TRUE(wait_until([&] { return has_status(store, "evt_silent", url, DeliveryStatus::kDead); }));
  EXPECT_EQ(store.find("evt_silent", url)->last_error, "no response within 100 ms");
  EXPECT_EQ(receiver_.count(), 1u);
}

TEST_F(WebhookDelivererTest, StopCancelsASendInFlightAndLeavesItPending) {
  FakeDeliveryStore& store = make_store();
  const std::string url = receiver_.url("/hang");
  store.add("evt_stop", url, kBody);
  WebhookDelivererOptions options = fast_options();
  options.request_timeout = 30s;
  WebhookDeliverer& deliverer = start(store, options);
  ASSERT_TRUE(wait_until([&] { return receiver_.count() == 1; }));

  const auto before = std::chrono::steady_clock::now();
  deliverer.stop();
  EXPECT_LT(std::chrono::steady_clock::now() - before, 2s);
  const auto delivery = store.find("evt_stop", url);
  EXPECT_EQ(delivery->status, DeliveryStatus::kPending);  // sent again when its lease ends
  EXPECT_EQ(delivery->attempts, 0);
  EXPECT_TRUE(store.failed_tries().empty());
  deliverer.stop();  // idempotent
  deliverer.wake();  // harmless after stop
}

TEST_F(WebhookDelivererTest, BoundsTheSendsInFlight) {
  receiver_.set_hold(40ms);
  FakeDeliveryStore& store = make_store();
  const std::string url = receiver_.url("/slow");
  for (int event_idx = 0; event_idx < 6; ++event_idx) store.add("evt_" + std::to_string(event_idx), url, kBody);
  WebhookDelivererOptions options = fast_options();
  options.max_in_flight = 2;
  start(store, options);

  ASSERT_TRUE(wait_until([&] { return store.delivered_marks() == 6; }));
  EXPECT_EQ(receiver_.max_concurrent(), 2);
  EXPECT_EQ(receiver_.count(), 6u);
}

TEST_F(WebhookDelivererTest, WakePollsAtOnce) {
  FakeDeliveryStore& store = make_store();
  WebhookDelivererOptions options = fast_options();
  options.poll_interval = 1h;
  WebhookDeliverer& deliverer = start(store, options);
  ASSERT_TRUE(wait_until([&] { return store.claims() >= 1; }));  // the first poll, at start

  const std::string url = receiver_.url("/hooks");
  store.add("evt_wake", url, kBody);
  deliverer.wake();
  ASSERT_TRUE(wait_until([&] { return has_status(store, "evt_wake", url, DeliveryStatus::kDelivered); }));
}

TEST_F(WebhookDelivererTest, ASecretLookupFailureIsAFailedTry) {
  FakeDeliveryStore& store = make_store();
  const std::string url = receiver_.url("/hooks");
  store.add("evt_nosecret", url, kBody);
  WebhookDelivererOptions options = fast_options();
  options.max_attempts = 1;
  deliverer_ = std::make_unique<WebhookDeliverer>(
      io_.get_executor(), store, pool_, WebhookAllowlist({url}),
      [](const store::Delivery&) -> std::string { throw Error(ErrorCode::kNotFound, "no secret for tenant x"); },
      options);
  deliverer_->start();

  ASSERT_TRUE(wait_until([&] { return has_status(store, "evt_nosecret", url, DeliveryStatus::kDead); }));
  EXPECT_EQ(store.find("evt_nosecret", url)->last_error, "no signing secret: no secret for tenant x");
  EXPECT_EQ(receiver_.count(), 0u);
}

TEST_F(WebhookDelivererTest, RejectsBadOptions) {
  FakeDeliveryStore& store = make_store();
  const auto make = [&](WebhookDelivererOptions options) {
    WebhookDeliverer deliverer(io_.get_executor(), store, pool_, WebhookAllowlist(),
                               [](const store::Delivery&) { return std::string(); }, options);
  };
  WebhookDelivererOptions options = fast_options();
  options.max_attempts = 0;
  EXPECT_THROW(make(options), Error);
  options = fast_options();
  options.max_backoff = 0ms;
  EXPECT_THROW(make(options), Error);
  options = fast_options();
  options.max_in_flight = 0;
  EXPECT_THROW(make(options), Error);
  EXPECT_NO_THROW(make(fast_options()));  // constructed and destroyed without start()
}

}  // namespace
}  // namespace tether::jobs
