#pragma once

// A JobStore that keeps webhook deliveries in memory, for the deliverer's
// tests (header-only: the test binary globs only *_test.cpp). Only the
// delivery calls are real; the rest throw Error(kUnsupported). Time comes
// from a clock the test sets.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "store/job_store.h"

namespace tether::testing {

// Unix milliseconds that move only when the test says.
class ManualClock {
 public:
  explicit ManualClock(int64_t start_ms = 1'700'000'000'000) : now_ms_(start_ms) {}
  int64_t now_ms() const { return now_ms_.load(); }
  void set(int64_t now_ms) { now_ms_.store(now_ms); }
  void advance(int64_t delta_ms) { now_ms_.fetch_add(delta_ms); }

 private:
  std::atomic<int64_t> now_ms_;
};

class FakeDeliveryStore : public store::JobStore {
 public:
  struct FailedTry {
    std::string event_id, url, error;
    int64_t at_ms = 0;  // the store's clock when it was recorded
    int64_t next_attempt_ms = 0;
    bool dead = false;
  };

  // `clock` unset = the system clock.
  explicit FakeDeliveryStore(std::function<int64_t()> clock = {}) : clock_(std::move(clock)) {}

  // A pending delivery, due now.
  void add(const std::string& event_id, const std::string& url, const std::string& body,
           const std::string& event_type = "succeeded") {
    std::lock_guard lock(mutex_);
    Row row;
    row.delivery.event_id = event_id;
    row.delivery.job_id = "job_000000000000000000000001";
    row.delivery.event_type = event_type;
    row.delivery.url = url;
    row.delivery.body = body;
    row.delivery.created_ms = now_ms();
    row.delivery.next_attempt_ms = now_ms();
    rows_.push_back(std::move(row));
  }

  std::optional<store::Delivery> find(const std::string& event_id, const std::string& url) {
    std::lock_guard lock(mutex_);
    for (const Row& row : rows_) {
      if (row.delivery.event_id == event_id && row.delivery.url == url) return row.delivery;
    }
    return std::nullopt;
  }
  std::vector<FailedTry> failed_tries() {
    std::lock_guard lock(mutex_);
    return failed_tries_;
  }
  int claims() const { return claims_.load(); }
  int delivered_marks() const { return delivered_marks_.load(); }

  std::vector<store::Delivery> claim_deliveries(const std::string& owner, int32_t limit, int64_t lease_ms) override {
    std::lock_guard lock(mutex_);
    ++claims_;
    const int64_t now = now_ms();
    std::vector<store::Delivery> claimed;
    for (Row& row : rows_) {  // rows_ is in creation order: oldest first
      if (static_cast<int32_t>(claimed.size()) >= limit) break;
      if (row.delivery.status != store::DeliveryStatus::kPending || row.delivery.next_attempt_ms > now) continue;
      if (!row.lease_owner.empty() && row.lease_until_ms > now) continue;
      row.lease_owner = owner;
      row.lease_until_ms = now + lease_ms;
      claimed.push_back(row.delivery);
    }
    return claimed;
  }

  void mark_delivered(const std::string& event_id, const std::string& url) override {
    std::lock_guard lock(mutex_);
    Row& row = get(event_id, url);
    row.delivery.status = store::DeliveryStatus::kDelivered;
    row.lease_owner.clear();
    ++delivered_marks_;
  }

  void mark_attempt_failed(const std::string& event_id, const std::string& url, const std::string& error,
                           int64_t next_attempt_ms, bool dead) override {
    std::lock_guard lock(mutex_);
    Row& row = get(event_id, url);
    ++row.delivery.attempts;
    row.delivery.last_error = error;
    row.delivery.next_attempt_ms = next_attempt_ms;
    if (dead) row.delivery.status = store::DeliveryStatus::kDead;
    row.lease_owner.clear();
    failed_tries_.push_back({event_id, url, error, now_ms(), next_attempt_ms, dead});
  }

  std::vector<store::Delivery> get_deliveries(const std::string& job_id) override {
    std::lock_guard lock(mutex_);
    std::vector<store::Delivery> out;
    for (const Row& row : rows_) {
      if (row.delivery.job_id == job_id) out.push_back(row.delivery);
    }
    return out;
  }

  int64_t now_ms() override {
    return clock_ ? clock_()
                  : std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
  }

  Submitted submit(const store::NewJob&) override { unsupported(); }
  std::optional<store::Job> get_job(const std::string&) override { unsupported(); }
  std::vector<store::Job> list_jobs(const store::JobFilter&) override { unsupported(); }
  std::vector<store::Item> get_items(const std::string&) override { unsupported(); }
  std::vector<store::Claim> claim(const std::string&, const std::vector<std::string>&, int32_t, int64_t) override {
    unsupported();
  }
  Renewal renew(const std::string&, const std::vector<std::pair<std::string, int32_t>>&, int64_t) override {
    unsupported();
  }
  bool complete(const std::string&, const std::string&, int32_t, const store::ItemOutcome&) override {
    unsupported();
  }
  bool release(const std::string&, const std::string&, int32_t, bool) override { unsupported(); }
  int32_t requeue_expired_leases() override { unsupported(); }
  int32_t expire_overdue() override { unsupported(); }
  std::optional<store::Job> cancel(const std::string&) override { unsupported(); }
  store::StoredFile put_file(const store::StoredFile&) override { unsupported(); }
  std::optional<store::StoredFile> get_file(const std::string&) override { unsupported(); }

 private:
  struct Row {
    store::Delivery delivery;
    std::string lease_owner;
    int64_t lease_until_ms = 0;
  };

  [[noreturn]] static void unsupported() {
    throw Error(ErrorCode::kUnsupported, "FakeDeliveryStore keeps webhook deliveries only");
  }

  Row& get(const std::string& event_id, const std::string& url) {
    for (Row& row : rows_) {
      if (row.delivery.event_id == event_id && row.delivery.url == url) return row;
    }
    throw Error(ErrorCode::kNotFound, "no delivery " + event_id + " to " + url);
  }

  std::function<int64_t()> clock_;
  std::mutex mutex_;
  std::vector<Row> rows_;
  std::vector<FailedTry> failed_tries_;
  std::atomic<int> claims_{0};
  std::atomic<int> delivered_marks_{0};
};

}  // namespace tether::testing
