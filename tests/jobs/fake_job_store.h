#pragma once

// An in-memory JobStore with the queue half of the contract (submit, claim,
// renew, complete, release, requeue_expired_leases, expire_overdue, cancel)
// and a manual clock: the dispatcher's tests run against it. Header-only
// (the test binary globs *_test.cpp). Deliveries and files are not here.

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "common/error.h"
#include "store/job_store.h"

namespace tether::jobs::testing {

class FakeJobStore : public store::JobStore {
 public:
  // One job of `requests` (JSON texts) on `model` at `endpoint`; its id.
  std::string add_job(const std::string& model, const std::string& endpoint, const std::vector<std::string>& requests,
                      int64_t deadline_ms = 0) {
    store::NewJob job;
    job.kind = endpoint == "/ai/run" ? "workers_ai" : "batch";
    job.model = model;
    job.endpoint = endpoint;
    job.deadline_ms = deadline_ms;
    for (const std::string& request : requests) job.items.push_back({"", request});
    return submit(job).job.id;
  }

  Submitted submit(const store::NewJob& new_job) override {
    if (new_job.items.empty()) throw_error(ErrorCode::kInvalidArgument, "a job needs items");
    std::lock_guard lock(mutex_);
    Entry entry;
    entry.job.id = fmt::format("job_{:024x}", ++next_id_);
    entry.job.kind = new_job.kind;
    entry.job.model = new_job.model;
    entry.job.endpoint = new_job.endpoint;
    entry.job.tenant = new_job.tenant;
    entry.job.deadline_ms = new_job.deadline_ms;
    entry.job.created_ms = now_;
    for (size_t idx = 0; idx < new_job.items.size(); ++idx) {
      store::Item item;
      item.job_id = entry.job.id;
      item.index = static_cast<int32_t>(idx);
      item.custom_id = new_job.items[idx].custom_id;
      item.request = new_job.items[idx].request;
      entry.items.push_back(item);
    }
    order_.push_back(entry.job.id);
    jobs_[entry.job.id] = entry;
    return {job_locked(entry), false};
  }

  std::optional<store::Job> get_job(const std::string& job_id) override {
    std::lock_guard lock(mutex_);
    auto it = jobs_.find(job_id);
    if (it == jobs_.end()) return std::nullopt;
    return job_locked(it->second);
  }
  std::vector<store::Job> list_jobs(const store::JobFilter&) override { unsupported(); }
  std::vector<store::Item> get_items(const std::string& job_id) override {
    std::lock_guard lock(mutex_);
    auto it = jobs_.find(job_id);
    return it == jobs_.end() ? std::vector<store::Item>{} : it->second.items;
  }
  store::Item item(const std::string& job_id, int32_t index) { return get_items(job_id).at(static_cast<size_t>(index)); }

  std::vector<store::Claim> claim(const std::string& owner, const std::vector<std::string>& models, int32_t limit,
                                  int64_t lease_ms) override {
    std::lock_guard lock(mutex_);
    ++claim_calls_;
    std::vector<store::Claim> claims;
    for (const std::string& id : order_) {
      Entry& entry = jobs_[id];
      if (!models.empty() && std::find(models.begin(), models.end(), entry.job.model) == models.end()) continue;
      if (entry.job.cancel_requested || (entry.job.deadline_ms != 0 && entry.job.deadline_ms < now_)) continue;
      for (store::Item& item : entry.items) {
        if (static_cast<int32_t>(claims.size()) >= limit) return claims;
        if (item.status != store::ItemStatus::kQueued) continue;
        item.status = store::ItemStatus::kRunning;
        ++item.attempts;
        item.lease_owner = owner;
        item.lease_expires_ms = now_ + lease_ms;
        item.started_ms = now_;
        store::Claim claim;
        claim.item = item;
        claim.model = entry.job.model;
        claim.endpoint = entry.job.endpoint;
        claim.kind = entry.job.kind;
        claim.tenant = entry.job.tenant;
        claim.deadline_ms = entry.job.deadline_ms;
        claims.push_back(std::move(claim));
      }
    }
    return claims;
  }

  Renewal renew(const std::string& owner, const std::vector<std::pair<std::string, int32_t>>& items,
                int64_t lease_ms) override {
    std::lock_guard lock(mutex_);
    ++renew_calls_;
    Renewal renewal;
    for (const auto& [job_id, index] : items) {
      const std::string key = fmt::format("{}/{}", job_id, index);
      store::Item* item = find_locked(job_id, index);
      if (item == nullptr || item->status != store::ItemStatus::kRunning || item->lease_owner != owner) {
        renewal.lost.push_back(key);
        continue;
      }
      item->lease_expires_ms = now_ + lease_ms;
      if (jobs_[job_id].job.cancel_requested) renewal.cancelled.push_back(key);
    }
    return renewal;
  }

  bool complete(const std::string& owner, const std::string& job_id, int32_t index,
                const store::ItemOutcome& outcome) override {
    std::lock_guard lock(mutex_);
    ++complete_calls_;
    store::Item* item = find_locked(job_id, index);
    if (item == nullptr || item->status != store::ItemStatus::kRunning || item->lease_owner != owner) return false;
    item->status = outcome.status;
    item->http_status = outcome.http_status;
    item->result = outcome.result;
    item->error = outcome.error;
    item->prompt_tokens = outcome.prompt_tokens;
    item->completion_tokens = outcome.completion_tokens;
    item->cached_tokens = outcome.cached_tokens;
    item->lease_owner.clear();
    item->finished_ms = now_;
    return true;
  }

  bool release(const std::string& owner, const std::string& job_id, int32_t index, bool keep_attempt) override {
    std::lock_guard lock(mutex_);
    ++release_calls_;
    store::Item* item = find_locked(job_id, index);
    if (item == nullptr || item->status != store::ItemStatus::kRunning || item->lease_owner != owner) return false;
    item->status = store::ItemStatus::kQueued;
    if (!keep_attempt) --item->attempts;
    item->lease_owner.clear();
    return true;
  }

  int32_t requeue_expired_leases() override {
    std::lock_guard lock(mutex_);
    int32_t requeued = 0;
    for (auto& [id, entry] : jobs_) {
      for (store::Item& item : entry.items) {
        if (item.status == store::ItemStatus::kRunning && item.lease_expires_ms <= now_) {
          item.status = store::ItemStatus::kQueued;
          item.lease_owner.clear();
          ++requeued;
        }
      }
    }
    return requeued;
  }

  int32_t expire_overdue() override {
    std::lock_guard lock(mutex_);
    int32_t expired = 0;
    for (auto& [id, entry] : jobs_) {
      if (entry.job.deadline_ms == 0 || entry.job.deadline_ms >= now_) continue;
      for (store::Item& item : entry.items) {
        if (item.status != store::ItemStatus::kQueued) continue;
        item.status = store::ItemStatus::kExpired;
        item.error = "the job's deadline passed before the item started";
        ++expired;
      }
    }
    return expired;
  }

  std::optional<store::Job> cancel(const std::string& job_id) override {
    std::lock_guard lock(mutex_);
    auto it = jobs_.find(job_id);
    if (it == jobs_.end()) return std::nullopt;
    it->second.job.cancel_requested = true;
    for (store::Item& item : it->second.items) {
      if (item.status == store::ItemStatus::kQueued) item.status = store::ItemStatus::kCancelled;
    }
    return job_locked(it->second);
  }

  std::vector<store::Delivery> claim_deliveries(const std::string&, int32_t, int64_t) override { unsupported(); }
  void mark_delivered(const std::string&, const std::string&) override { unsupported(); }
  void mark_attempt_failed(const std::string&, const std::string&, const std::string&, int64_t, bool) override {
    unsupported();
  }
  std::vector<store::Delivery> get_deliveries(const std::string&) override { unsupported(); }
  store::StoredFile put_file(const store::StoredFile&) override { unsupported(); }
  std::optional<store::StoredFile> get_file(const std::string&) override { unsupported(); }

  int64_t now_ms() override {
    std::lock_guard lock(mutex_);
    return now_;
  }
  void advance_ms(int64_t ms) {
    std::lock_guard lock(mutex_);
    now_ += ms;
  }
  // Another worker takes the item's lease (as after a long pause of ours).
  void steal(const std::string& job_id, int32_t index, const std::string& owner) {
    std::lock_guard lock(mutex_);
    find_locked(job_id, index)->lease_owner = owner;
  }
  // Items of `job_id` in `status`.
  int count(const std::string& job_id, store::ItemStatus status) {
    int n = 0;
    for (const store::Item& item : get_items(job_id)) n += item.status == status ? 1 : 0;
    return n;
  }
  int claim_calls() {
    std::lock_guard lock(mutex_);
    return claim_calls_;
  }
  int renew_calls() {
    std::lock_guard lock(mutex_);
    return renew_calls_;
  }
  int complete_calls() {
    std::lock_guard lock(mutex_);
    return complete_calls_;
  }
  int release_calls() {
    std::lock_guard lock(mutex_);
    return release_calls_;
  }

 private:
  struct Entry {
    store::Job job;
    std::vector<store::Item> items;
  };
  [[noreturn]] static void unsupported() { throw_error(ErrorCode::kUnsupported, "not in the fake store"); }

  store::Item* find_locked(const std::string& job_id, int32_t index) {
    auto it = jobs_.find(job_id);
    if (it == jobs_.end() || index < 0 || index >= static_cast<int32_t>(it->second.items.size())) return nullptr;
    return &it->second.items[static_cast<size_t>(index)];
  }
  store::Job job_locked(const Entry& entry) const {
    store::Job job = entry.job;
    job.counts = {};
    job.counts.total = static_cast<int32_t>(entry.items.size());
    for (const store::Item& item : entry.items) {
      switch (item.status) {
        case store::ItemStatus::kQueued: ++job.counts.queued; break;
        case store::ItemStatus::kRunning: ++job.counts.running; break;
        case store::ItemStatus::kSucceeded: ++job.counts.succeeded; break;
        case store::ItemStatus::kFailed: ++job.counts.failed; break;
        case store::ItemStatus::kCancelled: ++job.counts.cancelled; break;
        case store::ItemStatus::kExpired: ++job.counts.expired; break;
      }
    }
    return job;
  }

  std::mutex mutex_;  // guards everything below
  std::map<std::string, Entry> jobs_;
  std::vector<std::string> order_;  // job ids, oldest first
  uint64_t next_id_ = 0;
  int64_t now_ = 1'000'000;
  int claim_calls_ = 0, renew_calls_ = 0, complete_calls_ = 0, release_calls_ = 0;
};

}  // namespace tether::jobs::testing
