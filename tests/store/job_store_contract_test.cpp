// The JobStore contract, run on every backend in store_backends.h.
#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "common/error.h"
#include "store/job_store.h"
#include "store/store_backends.h"

namespace tether::store {
namespace {

using testing::StoreBackend;
using testing::StoreInstance;

constexpr int64_t kStartMs = 1'800'000'000'000;  // 2027-01-15

bool is_hex_id(const std::string& id, std::string_view prefix) {
  if (!id.starts_with(prefix) || id.size() != prefix.size() + 24) return false;
  return std::all_of(id.begin() + static_cast<long>(prefix.size()), id.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

NewJob make_job(int items, std::string model = "tiny", std::vector<std::string> urls = {}) {
  NewJob job;
  job.kind = "batch";
  job.model = std::move(model);
  job.endpoint = "/v1/chat/completions";
  job.webhook_urls = std::move(urls);
  for (int idx = 0; idx < items; ++idx) {
    job.items.push_back(NewItem{"\"req-" + std::to_string(idx) + "\"",
                                R"({"messages":[{"role":"user","content":"n)" + std::to_string(idx) + "\"}]}"});
  }
  return job;
}

ItemOutcome succeeded(int64_t prompt = 0, int64_t completion = 0, int64_t cached = 0) {
  ItemOutcome outcome;
  outcome.status = ItemStatus::kSucceeded;
  outcome.http_status = 200;
  outcome.result = R"({"ok":true})";
  outcome.prompt_tokens = prompt;
  outcome.completion_tokens = completion;
  outcome.cached_tokens = cached;
  return outcome;
}

ItemOutcome failed(std::string error = "bad request") {
  ItemOutcome outcome;
  outcome.status = ItemStatus::kFailed;
  outcome.http_status = 400;
  outcome.result = R"({"error":"bad"})";
  outcome.error = std::move(error);
  return outcome;
}

std::vector<std::string> event_types(const std::vector<Delivery>& deliveries) {
  std::vector<std::string> types;
  for (const auto& delivery : deliveries) types.push_back(delivery.event_type);
  return types;
}

std::string payload_status(const Delivery& delivery) {
  auto body = boost::json::parse(delivery.body);
  return std::string(body.at("payload").at("status").as_string());
}

class JobStoreContract : public ::testing::TestWithParam<StoreBackend> {
 protected:
  void SetUp() override {
    instance_ = GetParam().create();
    if (!instance_.skip_reason.empty()) GTEST_SKIP() << instance_.skip_reason;
    store_ = open();
  }
  void TearDown() override {
    store_.reset();
    if (instance_.cleanup) instance_.cleanup();
  }

  std::unique_ptr<JobStore> open() {
    StoreOptions options;
    options.clock = [now = now_] { return now->load(); };
    return instance_.open(std::move(options));
  }
  void advance(int64_t ms) { *now_ += ms; }
  int64_t now() const { return now_->load(); }

  // Submits one job and moves the clock, so that jobs have distinct ages.
  Job submit(const NewJob& job) {
    auto submitted = store_->submit(job);
    advance(1);
    return submitted.job;
  }

  Job job(const std::string& id) {
    auto found = store_->get_job(id);
    if (!found) ADD_FAILURE() << "no job " << id;
    return found.value_or(Job{});
  }

  // The job's counts must be exactly the tally of its items' statuses.
  void expect_counts_match_items(const std::string& job_id) {
    auto counts = job(job_id).counts;
    std::map<ItemStatus, int> tally;
    auto items = store_->get_items(job_id);
    for (const auto& item : items) tally[item.status]++;
    EXPECT_EQ(counts.total, static_cast<int>(items.size()));
    EXPECT_EQ(counts.queued, tally[ItemStatus::kQueued]);
    EXPECT_EQ(counts.running, tally[ItemStatus::kRunning]);
    EXPECT_EQ(counts.succeeded, tally[ItemStatus::kSucceeded]);
    EXPECT_EQ(counts.failed, tally[ItemStatus::kFailed]);
    EXPECT_EQ(counts.cancelled, tally[ItemStatus::kCancelled]);
    EXPECT_EQ(counts.expired, tally[ItemStatus::kExpired]);
  }

  std::shared_ptr<std::atomic<int64_t>> now_ = std::make_shared<std::atomic<int64_t>>(kStartMs);
  StoreInstance instance_;
  std::unique_ptr<JobStore> store_;
};

TEST_P(JobStoreContract, SubmitStoresJobItemsAndQueuedDeliveries) {
  NewJob request = make_job(3, "tiny", {"https://hooks.example/a", "https://hooks.example/b"});
  request.kind = "workers_ai";
  request.endpoint = "/ai/run";
  request.tenant = "key-1";
  request.metadata = R"({"project": "x"})";
  request.input_file_id = "file-abc";
  request.deadline_ms = kStartMs + 86'400'000;
  auto submitted = store_->submit(request);
  EXPECT_FALSE(submitted.existing);
  const Job& stored = submitted.job;
  EXPECT_TRUE(is_hex_id(stored.id, "job_")) << stored.id;
  EXPECT_EQ(stored.status, JobStatus::kQueued);
  EXPECT_EQ(stored.counts.total, 3);
  EXPECT_EQ(stored.counts.queued, 3);
  EXPECT_EQ(stored.created_ms, kStartMs);
  EXPECT_EQ(stored.started_ms, 0);
  EXPECT_EQ(stored.finished_ms, 0);

  Job loaded = job(stored.id);
  EXPECT_EQ(loaded.kind, "workers_ai");
  EXPECT_EQ(loaded.model, "tiny");
  EXPECT_EQ(loaded.endpoint, "/ai/run");
  EXPECT_EQ(loaded.tenant, "key-1");
  EXPECT_EQ(loaded.metadata, R"({"project": "x"})");
  EXPECT_EQ(loaded.input_file_id, "file-abc");
  EXPECT_EQ(loaded.deadline_ms, kStartMs + 86'400'000);
  EXPECT_EQ(loaded.webhook_urls, request.webhook_urls);
  EXPECT_FALSE(loaded.cancel_requested);

  auto items = store_->get_items(stored.id);
  ASSERT_EQ(items.size(), 3u);
  for (int idx = 0; idx < 3; ++idx) {
    EXPECT_EQ(items[idx].job_id, stored.id);
    EXPECT_EQ(items[idx].index, idx);
    EXPECT_EQ(items[idx].custom_id, request.items[idx].custom_id);
    EXPECT_EQ(items[idx].request, request.items[idx].request);
    EXPECT_EQ(items[idx].status, ItemStatus::kQueued);
    EXPECT_EQ(items[idx].attempts, 0);
  }

  auto deliveries = store_->get_deliveries(stored.id);
  ASSERT_EQ(deliveries.size(), 2u);
  EXPECT_EQ(deliveries[0].event_id, deliveries[1].event_id);  // one event, one row per URL
  EXPECT_TRUE(is_hex_id(deliveries[0].event_id, "evt_")) << deliveries[0].event_id;
  std::set<std::string> urls{deliveries[0].url, deliveries[1].url};
  EXPECT_EQ(urls, (std::set<std::string>{"https://hooks.example/a", "https://hooks.example/b"}));
  for (const auto& delivery : deliveries) {
    EXPECT_EQ(delivery.event_type, "queued");
    EXPECT_EQ(delivery.job_id, stored.id);
    EXPECT_EQ(delivery.tenant, "key-1");
    EXPECT_EQ(delivery.status, DeliveryStatus::kPending);
    EXPECT_EQ(delivery.attempts, 0);
    EXPECT_EQ(delivery.created_ms, kStartMs);
    EXPECT_EQ(delivery.body, event_body("queued", loaded, delivery.event_id, kStartMs));
    EXPECT_EQ(payload_status(delivery), "queued");
  }
}

TEST_P(JobStoreContract, SubmitWithoutItemsIsInvalid) {
  try {
    store_->submit(make_job(0));
    FAIL() << "a job without items was stored";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::kInvalidArgument);
  }
  EXPECT_TRUE(store_->list_jobs({}).empty());
}

TEST_P(JobStoreContract, IdempotentResubmissionReturnsTheFirstJob) {
  NewJob request = make_job(2, "tiny", {"https://hooks.example/a"});
  request.tenant = "key-1";
  request.idempotency_key = "abc";
  auto first = store_->submit(request);
  advance(5);
  request.items.push_back(NewItem{"", "{}"});  // what a resubmission carries does not matter
  auto second = store_->submit(request);
  EXPECT_FALSE(first.existing);
  EXPECT_TRUE(second.existing);
  EXPECT_EQ(second.job.id, first.job.id);
  EXPECT_EQ(second.job.counts.total, 2);
  EXPECT_EQ(second.job.created_ms, kStartMs);
  EXPECT_EQ(store_->list_jobs({}).size(), 1u);
  EXPECT_EQ(store_->get_items(first.job.id).size(), 2u);
  EXPECT_EQ(store_->get_deliveries(first.job.id).size(), 1u);

  request.tenant = "key-2";  // the key is per tenant
  auto other_tenant = store_->submit(request);
  EXPECT_FALSE(other_tenant.existing);
  EXPECT_NE(other_tenant.job.id, first.job.id);

  NewJob plain = make_job(1);  // no key: every submit is a new job
  EXPECT_NE(store_->submit(plain).job.id, store_->submit(plain).job.id);
  EXPECT_EQ(store_->list_jobs({}).size(), 4u);
}

TEST_P(JobStoreContract, WebhookUrlsAndDataRoundTripExactly) {
  NewJob request = make_job(1, "m", {"https://h.example/p?a=1&b=\"2\",3", "http://[::1]:8080/ü/x y", ""});
  request.metadata = "{ \"k\" :\t[1, 2.50, \"\\u00e9\"] }";
  request.items[0].custom_id = "\"id \\\" with quote\"";
  request.items[0].request = std::string("{\"prompt\":\"caf\xc3\xa9 \\n\"}");
  Job stored = submit(request);
  Job loaded = job(stored.id);
  EXPECT_EQ(loaded.webhook_urls, request.webhook_urls);
  EXPECT_EQ(loaded.metadata, request.metadata);
  auto items = store_->get_items(stored.id);
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].custom_id, request.items[0].custom_id);
  EXPECT_EQ(items[0].request, request.items[0].request);

  Job no_hooks = submit(make_job(1));
  EXPECT_TRUE(job(no_hooks.id).webhook_urls.empty());
  EXPECT_TRUE(store_->get_deliveries(no_hooks.id).empty());
  EXPECT_FALSE(store_->get_job("job_000000000000000000000000").has_value());
  EXPECT_TRUE(store_->get_items("job_000000000000000000000000").empty());
}

TEST_P(JobStoreContract, ListJobsNewestFirstWithFiltersAndPages) {
  std::vector<std::string> ids;
  for (int idx = 0; idx < 5; ++idx) {
    NewJob request = make_job(1);
    request.tenant = idx % 2 == 0 ? "even" : "odd";
    ids.push_back(submit(request).id);
  }
  store_->cancel(ids[1]);
  auto all = store_->list_jobs({});
  ASSERT_EQ(all.size(), 5u);
  for (int idx = 0; idx < 5; ++idx) EXPECT_EQ(all[idx].id, ids[4 - idx]);

  JobFilter even;
  even.tenant = "even";
  auto evens = store_->list_jobs(even);
  ASSERT_EQ(evens.size(), 3u);
  EXPECT_EQ(evens[0].id, ids[4]);
  EXPECT_EQ(evens[2].id, ids[0]);

  JobFilter cancelled;
  cancelled.status = JobStatus::kCancelled;
  auto cancelled_jobs = store_->list_jobs(cancelled);
  ASSERT_EQ(cancelled_jobs.size(), 1u);
  EXPECT_EQ(cancelled_jobs[0].id, ids[1]);

  JobFilter page;
  page.limit = 2;
  auto first_page = store_->list_jobs(page);
  ASSERT_EQ(first_page.size(), 2u);
  page.after = first_page.back().id;
  auto second_page = store_->list_jobs(page);
  ASSERT_EQ(second_page.size(), 2u);
  EXPECT_EQ(second_page[0].id, ids[2]);
  EXPECT_EQ(second_page[1].id, ids[1]);
  page.after = ids[0];
  EXPECT_TRUE(store_->list_jobs(page).empty());
  page.after = "job_ffffffffffffffffffffffff";  // unknown cursor: nothing
  EXPECT_TRUE(store_->list_jobs(page).empty());
  page.limit = 0;
  EXPECT_THROW(store_->list_jobs(page), Error);
}

TEST_P(JobStoreContract, ListJobsByKindAndTheDefaultTenant) {
  NewJob batch = make_job(1);
  batch.kind = "batch";
  NewJob single = make_job(1);
  single.kind = "single";
  NewJob other_tenant = make_job(1);
  other_tenant.kind = "batch";
  other_tenant.tenant = "acme";
  const std::string batch_id = submit(batch).id;
  const std::string single_id = submit(single).id;
  const std::string acme_id = submit(other_tenant).id;

  JobFilter batches;
  batches.kind = "batch";
  auto listed = store_->list_jobs(batches);
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[0].id, acme_id);
  EXPECT_EQ(listed[1].id, batch_id);

  JobFilter default_tenant;
  default_tenant.tenant = "";  // the default tenant, not every tenant
  listed = store_->list_jobs(default_tenant);
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[0].id, single_id);
  EXPECT_EQ(listed[1].id, batch_id);

  default_tenant.kind = "batch";
  listed = store_->list_jobs(default_tenant);
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].id, batch_id);
}

TEST_P(JobStoreContract, ClaimTakesOldestJobFirstThenIndex) {
  Job older = submit(make_job(3, "tiny", {"https://h.example/x"}));
  Job newer = submit(make_job(2));
  auto claims = store_->claim("w1", {}, 4, 30'000);
  ASSERT_EQ(claims.size(), 4u);
  std::vector<std::pair<std::string, int>> order;
  for (const auto& claim : claims) order.emplace_back(claim.item.job_id, claim.item.index);
  EXPECT_EQ(order, (std::vector<std::pair<std::string, int>>{
                       {older.id, 0}, {older.id, 1}, {older.id, 2}, {newer.id, 0}}));
  const Claim& first = claims[0];
  EXPECT_EQ(first.item.status, ItemStatus::kRunning);
  EXPECT_EQ(first.item.attempts, 1);
  EXPECT_EQ(first.item.lease_owner, "w1");
  EXPECT_EQ(first.item.lease_expires_ms, now() + 30'000);
  EXPECT_EQ(first.item.request, make_job(3).items[0].request);
  EXPECT_EQ(first.model, "tiny");
  EXPECT_EQ(first.endpoint, "/v1/chat/completions");
  EXPECT_EQ(first.kind, "batch");

  Job running = job(older.id);
  EXPECT_EQ(running.status, JobStatus::kRunning);
  EXPECT_EQ(running.started_ms, now());
  EXPECT_EQ(running.counts.running, 3);
  EXPECT_EQ(event_types(store_->get_deliveries(older.id)), (std::vector<std::string>{"queued", "running"}));
  EXPECT_EQ(payload_status(store_->get_deliveries(older.id)[1]), "running");
  expect_counts_match_items(older.id);
  expect_counts_match_items(newer.id);

  // The rest, then nothing.
  auto rest = store_->claim("w2", {}, 10, 30'000);
  ASSERT_EQ(rest.size(), 1u);
  EXPECT_EQ(rest[0].item.job_id, newer.id);
  EXPECT_EQ(rest[0].item.index, 1);
  EXPECT_TRUE(store_->claim("w2", {}, 10, 30'000).empty());
  EXPECT_TRUE(store_->claim("w2", {}, 0, 30'000).empty());
  EXPECT_EQ(job(newer.id).counts.running, 2);
}

TEST_P(JobStoreContract, RunningEventIsWrittenOncePerJob) {
  Job submitted = submit(make_job(3, "tiny", {"https://h.example/a", "https://h.example/b"}));
  store_->claim("w1", {}, 1, 30'000);
  store_->claim("w1", {}, 1, 30'000);
  ASSERT_TRUE(store_->release("w1", submitted.id, 0));
  store_->claim("w1", {}, 1, 30'000);
  auto types = event_types(store_->get_deliveries(submitted.id));
  EXPECT_EQ(std::count(types.begin(), types.end(), "running"), 2);  // one event, two URLs
  EXPECT_EQ(std::count(types.begin(), types.end(), "queued"), 2);
}

TEST_P(JobStoreContract, ClaimTakesOnlyListedModels) {
  Job small = submit(make_job(2, "small"));
  Job large = submit(make_job(2, "large"));
  Job other = submit(make_job(1, "other"));
  auto claims = store_->claim("w1", {"large", "other"}, 10, 30'000);
  ASSERT_EQ(claims.size(), 3u);
  for (const auto& claim : claims) EXPECT_NE(claim.item.job_id, small.id);
  EXPECT_EQ(claims[0].item.job_id, large.id);
  EXPECT_EQ(claims[2].item.job_id, other.id);
  EXPECT_TRUE(store_->claim("w1", {"large"}, 10, 30'000).empty());
  auto any = store_->claim("w1", {}, 10, 30'000);
  ASSERT_EQ(any.size(), 2u);
  EXPECT_EQ(any[0].item.job_id, small.id);
}

TEST_P(JobStoreContract, ConcurrentClaimersNeverShareAnItem) {
  std::vector<std::string> job_ids;
  for (int idx = 0; idx < 4; ++idx) job_ids.push_back(submit(make_job(50)).id);
  std::mutex mutex;
  std::map<std::string, int> claimed;  // "job/index" -> times claimed
  std::vector<std::thread> threads;
  for (int worker = 0; worker < 4; ++worker) {
    threads.emplace_back([&, worker] {
      std::string owner = "w" + std::to_string(worker);
      for (;;) {
        auto claims = store_->claim(owner, {}, 3, 60'000);
        if (claims.empty()) return;
        std::lock_guard lock(mutex);
        for (const auto& claim : claims) {
          claimed[claim.item.job_id + "/" + std::to_string(claim.item.index)]++;
          EXPECT_EQ(claim.item.lease_owner, owner);
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(claimed.size(), 200u);
  for (const auto& [ref, times] : claimed) EXPECT_EQ(times, 1) << ref;
  for (const auto& job_id : job_ids) {
    for (const auto& item : store_->get_items(job_id)) EXPECT_EQ(item.attempts, 1);
    EXPECT_EQ(job(job_id).counts.running, 50);
  }
}

TEST_P(JobStoreContract, CompleteRecordsOutcomesAndFinishesTheJob) {
  Job submitted = submit(make_job(2, "tiny", {"https://h.example/a"}));
  auto claims = store_->claim("w1", {}, 2, 30'000);
  ASSERT_EQ(claims.size(), 2u);
  advance(100);
  ASSERT_TRUE(store_->complete("w1", submitted.id, 0, succeeded(10, 5, 2)));
  Job halfway = job(submitted.id);
  EXPECT_EQ(halfway.status, JobStatus::kRunning);
  EXPECT_EQ(halfway.counts.succeeded, 1);
  EXPECT_EQ(halfway.counts.running, 1);
  EXPECT_EQ(halfway.finished_ms, 0);
  EXPECT_EQ(event_types(store_->get_deliveries(submitted.id)), (std::vector<std::string>{"queued", "running"}));

  advance(100);
  ASSERT_TRUE(store_->complete("w1", submitted.id, 1, failed("model said no")));
  Job done = job(submitted.id);
  EXPECT_EQ(done.status, JobStatus::kSucceeded);  // not every item failed
  EXPECT_EQ(done.finished_ms, now());
  EXPECT_EQ(done.counts.succeeded, 1);
  EXPECT_EQ(done.counts.failed, 1);
  EXPECT_EQ(done.prompt_tokens, 10);
  EXPECT_EQ(done.completion_tokens, 5);
  EXPECT_EQ(done.cached_tokens, 2);
  expect_counts_match_items(submitted.id);

  auto items = store_->get_items(submitted.id);
  EXPECT_EQ(items[0].status, ItemStatus::kSucceeded);
  EXPECT_EQ(items[0].http_status, 200);
  EXPECT_EQ(items[0].result, R"({"ok":true})");
  EXPECT_EQ(items[0].prompt_tokens, 10);
  EXPECT_EQ(items[0].finished_ms, kStartMs + 101);
  EXPECT_TRUE(items[0].lease_owner.empty());
  EXPECT_EQ(items[1].status, ItemStatus::kFailed);
  EXPECT_EQ(items[1].http_status, 400);
  EXPECT_EQ(items[1].error, "model said no");

  auto deliveries = store_->get_deliveries(submitted.id);
  EXPECT_EQ(event_types(deliveries), (std::vector<std::string>{"queued", "running", "succeeded"}));
  EXPECT_EQ(payload_status(deliveries[2]), "succeeded");
  EXPECT_EQ(deliveries[2].created_ms, now());
  // A finished item cannot be completed again.
  EXPECT_FALSE(store_->complete("w1", submitted.id, 1, succeeded()));
  EXPECT_EQ(store_->get_deliveries(submitted.id).size(), 3u);
}

TEST_P(JobStoreContract, EveryItemFailedMakesTheJobFailed) {
  Job submitted = submit(make_job(2, "tiny", {"https://h.example/a"}));
  store_->claim("w1", {}, 2, 30'000);
  ASSERT_TRUE(store_->complete("w1", submitted.id, 0, failed()));
  ASSERT_TRUE(store_->complete("w1", submitted.id, 1, failed()));
  EXPECT_EQ(job(submitted.id).status, JobStatus::kFailed);
  auto deliveries = store_->get_deliveries(submitted.id);
  EXPECT_EQ(event_types(deliveries), (std::vector<std::string>{"queued", "running", "failed"}));
  EXPECT_EQ(payload_status(deliveries[2]), "failed");
}

TEST_P(JobStoreContract, CompleteByAnotherOwnerWritesNothing) {
  Job submitted = submit(make_job(1));
  store_->claim("w1", {}, 1, 30'000);
  EXPECT_FALSE(store_->complete("w2", submitted.id, 0, succeeded(7)));
  EXPECT_FALSE(store_->complete("w1", submitted.id, 5, succeeded()));           // no such item
  EXPECT_FALSE(store_->complete("w1", "job_nothere", 0, succeeded()));          // no such job
  auto items = store_->get_items(submitted.id);
  EXPECT_EQ(items[0].status, ItemStatus::kRunning);
  EXPECT_EQ(items[0].lease_owner, "w1");
  EXPECT_EQ(job(submitted.id).prompt_tokens, 0);
  ItemOutcome queued;
  queued.status = ItemStatus::kQueued;
  EXPECT_THROW(store_->complete("w1", submitted.id, 0, queued), Error);
  EXPECT_TRUE(store_->complete("w1", submitted.id, 0, succeeded(7)));
  EXPECT_EQ(job(submitted.id).prompt_tokens, 7);
}

TEST_P(JobStoreContract, ExpiredLeaseGoesBackToTheQueueAndTheOldOwnerLosesIt) {
  Job submitted = submit(make_job(2));
  ASSERT_EQ(store_->claim("w1", {}, 2, 1'000).size(), 2u);
  advance(999);
  EXPECT_EQ(store_->requeue_expired_leases(), 0);
  auto renewal = store_->renew("w1", {{submitted.id, 1}}, 1'000);  // item 1 stays w1's
  EXPECT_TRUE(renewal.lost.empty());
  advance(1);
  EXPECT_EQ(store_->requeue_expired_leases(), 1);
  auto items = store_->get_items(submitted.id);
  EXPECT_EQ(items[0].status, ItemStatus::kQueued);
  EXPECT_EQ(items[0].attempts, 1);  // the lost run counts
  EXPECT_TRUE(items[0].lease_owner.empty());
  EXPECT_EQ(items[1].status, ItemStatus::kRunning);
  expect_counts_match_items(submitted.id);

  auto taken = store_->claim("w2", {}, 5, 1'000);
  ASSERT_EQ(taken.size(), 1u);
  EXPECT_EQ(taken[0].item.index, 0);
  EXPECT_EQ(taken[0].item.attempts, 2);
  EXPECT_FALSE(store_->complete("w1", submitted.id, 0, succeeded()));
  renewal = store_->renew("w1", {{submitted.id, 0}, {submitted.id, 1}, {"job_unknown", 0}}, 1'000);
  EXPECT_EQ(renewal.lost, (std::vector<std::string>{submitted.id + "/0", "job_unknown/0"}));
  EXPECT_TRUE(renewal.cancelled.empty());
  EXPECT_TRUE(store_->complete("w2", submitted.id, 0, succeeded()));
  EXPECT_TRUE(store_->complete("w1", submitted.id, 1, succeeded()));
  EXPECT_EQ(job(submitted.id).status, JobStatus::kSucceeded);
}

TEST_P(JobStoreContract, RenewExtendsTheLease) {
  Job submitted = submit(make_job(1));
  store_->claim("w1", {}, 1, 1'000);
  advance(900);
  auto renewal = store_->renew("w1", {{submitted.id, 0}}, 1'000);
  EXPECT_TRUE(renewal.lost.empty());
  EXPECT_EQ(store_->get_items(submitted.id)[0].lease_expires_ms, now() + 1'000);
  advance(900);
  EXPECT_EQ(store_->requeue_expired_leases(), 0);
  renewal = store_->renew("w2", {{submitted.id, 0}}, 1'000);  // not w2's
  EXPECT_EQ(renewal.lost, (std::vector<std::string>{submitted.id + "/0"}));
  EXPECT_EQ(store_->get_items(submitted.id)[0].lease_owner, "w1");
}

TEST_P(JobStoreContract, ReleaseHandsTheItemBackWithoutCountingTheAttempt) {
  Job submitted = submit(make_job(1));
  store_->claim("w1", {}, 1, 30'000);
  EXPECT_FALSE(store_->release("w2", submitted.id, 0));
  EXPECT_TRUE(store_->release("w1", submitted.id, 0));
  EXPECT_FALSE(store_->release("w1", submitted.id, 0));  // no longer leased
  auto items = store_->get_items(submitted.id);
  EXPECT_EQ(items[0].status, ItemStatus::kQueued);
  EXPECT_EQ(items[0].attempts, 0);
  EXPECT_TRUE(items[0].lease_owner.empty());
  Job after = job(submitted.id);
  EXPECT_EQ(after.status, JobStatus::kRunning);  // it has started; it stays so
  expect_counts_match_items(submitted.id);
  auto again = store_->claim("w2", {}, 1, 30'000);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].item.attempts, 1);
}

TEST_P(JobStoreContract, ReleaseKeepingTheAttemptCountsTheFailedRun) {
  Job submitted = submit(make_job(1));
  store_->claim("w1", {}, 1, 30'000);
  EXPECT_TRUE(store_->release("w1", submitted.id, 0, /*keep_attempt=*/true));
  EXPECT_EQ(store_->get_items(submitted.id)[0].attempts, 1);
  EXPECT_EQ(store_->get_items(submitted.id)[0].status, ItemStatus::kQueued);
  auto again = store_->claim("w2", {}, 1, 30'000);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].item.attempts, 2);
  expect_counts_match_items(submitted.id);
}

TEST_P(JobStoreContract, DeadlineExpiresItemsNotStartedInTime) {
  NewJob request = make_job(3, "tiny", {"https://h.example/a"});
  request.deadline_ms = kStartMs + 1'000;
  Job submitted = submit(request);
  Job timeless = submit(make_job(1));
  ASSERT_EQ(store_->claim("w1", {}, 1, 60'000).size(), 1u);  // item 0 runs in time
  advance(1'000);
  // Past the deadline nothing of the job is handed out.
  auto claims = store_->claim("w1", {}, 10, 60'000);
  ASSERT_EQ(claims.size(), 1u);
  EXPECT_EQ(claims[0].item.job_id, timeless.id);
  auto items = store_->get_items(submitted.id);
  EXPECT_EQ(items[1].status, ItemStatus::kExpired);
  EXPECT_FALSE(items[1].error.empty());
  EXPECT_EQ(store_->expire_overdue(), 0);  // the claim already expired them
  EXPECT_EQ(job(submitted.id).status, JobStatus::kRunning);
  expect_counts_match_items(submitted.id);

  ASSERT_TRUE(store_->complete("w1", submitted.id, 0, succeeded()));
  Job done = job(submitted.id);
  EXPECT_EQ(done.status, JobStatus::kExpired);
  EXPECT_EQ(done.counts.expired, 2);
  EXPECT_EQ(done.counts.succeeded, 1);
  auto deliveries = store_->get_deliveries(submitted.id);
  EXPECT_EQ(event_types(deliveries), (std::vector<std::string>{"queued", "running", "failed"}));
  EXPECT_EQ(payload_status(deliveries.back()), "expired");
  EXPECT_EQ(job(timeless.id).status, JobStatus::kRunning);
}

TEST_P(JobStoreContract, ExpireOverdueEndsAJobThatNeverStarted) {
  NewJob request = make_job(2, "tiny", {"https://h.example/a"});
  request.deadline_ms = kStartMs + 500;
  Job submitted = submit(request);
  EXPECT_EQ(store_->expire_overdue(), 0);
  advance(500);
  EXPECT_EQ(store_->expire_overdue(), 2);
  Job expired = job(submitted.id);
  EXPECT_EQ(expired.status, JobStatus::kExpired);
  EXPECT_EQ(expired.finished_ms, now());
  EXPECT_EQ(expired.counts.expired, 2);
  EXPECT_EQ(event_types(store_->get_deliveries(submitted.id)), (std::vector<std::string>{"queued", "failed"}));
  EXPECT_EQ(store_->expire_overdue(), 0);
}

TEST_P(JobStoreContract, CancelOfAQueuedJobEndsItAtOnce) {
  Job submitted = submit(make_job(3, "tiny", {"https://h.example/a"}));
  auto cancelled = store_->cancel(submitted.id);
  ASSERT_TRUE(cancelled.has_value());
  EXPECT_EQ(cancelled->status, JobStatus::kCancelled);
  EXPECT_TRUE(cancelled->cancel_requested);
  EXPECT_EQ(cancelled->counts.cancelled, 3);
  EXPECT_EQ(cancelled->finished_ms, now());
  expect_counts_match_items(submitted.id);
  auto deliveries = store_->get_deliveries(submitted.id);
  EXPECT_EQ(event_types(deliveries), (std::vector<std::string>{"queued", "failed"}));
  EXPECT_EQ(payload_status(deliveries.back()), "cancelled");
  EXPECT_TRUE(store_->claim("w1", {}, 10, 30'000).empty());

  advance(10);
  auto again = store_->cancel(submitted.id);  // terminal: unchanged
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->finished_ms, cancelled->finished_ms);
  EXPECT_EQ(store_->get_deliveries(submitted.id).size(), 2u);
  EXPECT_FALSE(store_->cancel("job_000000000000000000000000").has_value());
}

TEST_P(JobStoreContract, CancelOfARunningJobWaitsForItsRunningItems) {
  Job submitted = submit(make_job(4, "tiny", {"https://h.example/a"}));
  store_->claim("w1", {}, 2, 30'000);
  auto cancelled = store_->cancel(submitted.id);
  ASSERT_TRUE(cancelled.has_value());
  EXPECT_EQ(cancelled->status, JobStatus::kRunning);
  EXPECT_TRUE(cancelled->cancel_requested);
  EXPECT_EQ(cancelled->counts.cancelled, 2);
  EXPECT_EQ(cancelled->counts.running, 2);
  EXPECT_TRUE(store_->claim("w2", {}, 10, 30'000).empty());

  auto renewal = store_->renew("w1", {{submitted.id, 0}, {submitted.id, 1}}, 30'000);
  EXPECT_EQ(renewal.cancelled, (std::vector<std::string>{submitted.id + "/0", submitted.id + "/1"}));
  EXPECT_TRUE(renewal.lost.empty());

  ItemOutcome stopped;
  stopped.status = ItemStatus::kCancelled;
  stopped.error = "cancelled";
  ASSERT_TRUE(store_->complete("w1", submitted.id, 0, stopped));
  EXPECT_EQ(job(submitted.id).status, JobStatus::kRunning);
  ASSERT_TRUE(store_->release("w1", submitted.id, 1));  // a released item of a cancelled job ends
  Job done = job(submitted.id);
  EXPECT_EQ(done.status, JobStatus::kCancelled);
  EXPECT_EQ(done.counts.cancelled, 4);
  expect_counts_match_items(submitted.id);
  auto deliveries = store_->get_deliveries(submitted.id);
  EXPECT_EQ(event_types(deliveries), (std::vector<std::string>{"queued", "running", "failed"}));
  EXPECT_EQ(payload_status(deliveries.back()), "cancelled");
}

TEST_P(JobStoreContract, ExpiredLeaseOfACancelledJobEndsTheItem) {
  Job submitted = submit(make_job(1));
  store_->claim("w1", {}, 1, 1'000);
  store_->cancel(submitted.id);
  advance(1'000);
  EXPECT_EQ(store_->requeue_expired_leases(), 1);
  EXPECT_EQ(store_->get_items(submitted.id)[0].status, ItemStatus::kCancelled);
  EXPECT_EQ(job(submitted.id).status, JobStatus::kCancelled);
}

TEST_P(JobStoreContract, DeliveriesAreLeasedRetriedAndFinished) {
  Job first = submit(make_job(1, "tiny", {"https://h.example/a", "https://h.example/b"}));
  Job second = submit(make_job(1, "tiny", {"https://h.example/c"}));
  auto batch = store_->claim_deliveries("d1", 2, 10'000);
  ASSERT_EQ(batch.size(), 2u);  // oldest first
  EXPECT_EQ(batch[0].job_id, first.id);
  EXPECT_EQ(batch[1].job_id, first.id);
  auto rest = store_->claim_deliveries("d2", 10, 10'000);  // the first two are held for d1
  ASSERT_EQ(rest.size(), 1u);
  EXPECT_EQ(rest[0].job_id, second.id);
  EXPECT_TRUE(store_->claim_deliveries("d2", 10, 10'000).empty());

  store_->mark_delivered(batch[0].event_id, batch[0].url);
  store_->mark_attempt_failed(batch[1].event_id, batch[1].url, "HTTP 500", now() + 5'000, false);
  advance(4'999);
  EXPECT_TRUE(store_->claim_deliveries("d1", 10, 10'000).empty());  // d2 holds the third until +10 000
  advance(1);
  auto retry = store_->claim_deliveries("d1", 10, 10'000);
  ASSERT_EQ(retry.size(), 1u);
  EXPECT_EQ(retry[0].url, batch[1].url);
  EXPECT_EQ(retry[0].attempts, 1);
  EXPECT_EQ(retry[0].last_error, "HTTP 500");
  EXPECT_EQ(retry[0].event_id, batch[1].event_id);
  EXPECT_EQ(retry[0].body, batch[1].body);
  store_->mark_attempt_failed(retry[0].event_id, retry[0].url, "timeout", now() + 1, true);

  advance(10'000);  // d2's hold on the third lapsed without a word: it is handed out again
  auto lapsed = store_->claim_deliveries("d3", 10, 10'000);
  ASSERT_EQ(lapsed.size(), 1u);
  EXPECT_EQ(lapsed[0].job_id, second.id);
  store_->mark_delivered(lapsed[0].event_id, lapsed[0].url);
  store_->mark_delivered(lapsed[0].event_id, lapsed[0].url);  // at least once: twice is fine
  store_->mark_attempt_failed(lapsed[0].event_id, lapsed[0].url, "late", now(), false);  // stays delivered
  advance(100'000);
  EXPECT_TRUE(store_->claim_deliveries("d3", 10, 10'000).empty());

  auto states = store_->get_deliveries(first.id);
  ASSERT_EQ(states.size(), 2u);
  EXPECT_EQ(states[0].status, DeliveryStatus::kDelivered);
  EXPECT_EQ(states[0].attempts, 0);
  EXPECT_EQ(states[1].status, DeliveryStatus::kDead);
  EXPECT_EQ(states[1].attempts, 2);
  EXPECT_EQ(states[1].last_error, "timeout");
  EXPECT_EQ(store_->get_deliveries(second.id)[0].status, DeliveryStatus::kDelivered);

  try {
    store_->mark_delivered("evt_000000000000000000000000", "https://h.example/a");
    FAIL() << "an unknown delivery was marked";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::kNotFound);
  }
  EXPECT_THROW(store_->mark_attempt_failed("evt_000000000000000000000000", "u", "e", 0, false), Error);
}

TEST_P(JobStoreContract, FilesRoundTripBinaryContent) {
  StoredFile file;
  file.purpose = "batch";
  file.filename = "input \"1\".jsonl";
  file.tenant = "key-1";
  for (int byte = 0; byte < 256; ++byte) file.content.push_back(static_cast<char>(byte));
  file.content += std::string("\0\0tail\0", 7);
  StoredFile stored = store_->put_file(file);
  EXPECT_TRUE(is_hex_id(stored.id, "file-")) << stored.id;
  EXPECT_EQ(stored.created_ms, now());
  auto loaded = store_->get_file(stored.id);
  ASSERT_TRUE(loaded.has_value());
  EXPECT_EQ(loaded->id, stored.id);
  EXPECT_EQ(loaded->purpose, "batch");
  EXPECT_EQ(loaded->filename, file.filename);
  EXPECT_EQ(loaded->tenant, "key-1");
  EXPECT_EQ(loaded->content, file.content);
  EXPECT_EQ(loaded->created_ms, now());

  StoredFile empty;
  empty.purpose = "batch_output";
  auto empty_stored = store_->put_file(empty);
  EXPECT_NE(empty_stored.id, stored.id);
  ASSERT_TRUE(store_->get_file(empty_stored.id).has_value());
  EXPECT_TRUE(store_->get_file(empty_stored.id)->content.empty());
  EXPECT_FALSE(store_->get_file("file-000000000000000000000000").has_value());
}

TEST_P(JobStoreContract, ReopenedStoreHoldsEverything) {
  NewJob request = make_job(3, "tiny", {"https://h.example/a"});
  request.idempotency_key = "once";
  request.metadata = R"({"a":1})";
  Job submitted = submit(request);
  store_->claim("w1", {}, 2, 60'000);
  ASSERT_TRUE(store_->complete("w1", submitted.id, 0, succeeded(3, 4, 5)));
  StoredFile file;
  file.purpose = "batch";
  file.content = std::string("a\0b", 3);
  std::string file_id = store_->put_file(file).id;
  auto delivery = store_->claim_deliveries("d1", 1, 10'000);
  ASSERT_EQ(delivery.size(), 1u);
  store_->mark_delivered(delivery[0].event_id, delivery[0].url);
  Job before = job(submitted.id);
  auto items_before = store_->get_items(submitted.id);
  auto deliveries_before = store_->get_deliveries(submitted.id);

  store_.reset();
  store_ = open();
  Job after = job(submitted.id);
  EXPECT_EQ(after.status, before.status);
  EXPECT_EQ(after.counts.succeeded, 1);
  EXPECT_EQ(after.counts.running, 1);
  EXPECT_EQ(after.counts.queued, 1);
  EXPECT_EQ(after.prompt_tokens, 3);
  EXPECT_EQ(after.metadata, before.metadata);
  EXPECT_EQ(after.webhook_urls, before.webhook_urls);
  EXPECT_EQ(after.started_ms, before.started_ms);
  auto items_after = store_->get_items(submitted.id);
  ASSERT_EQ(items_after.size(), items_before.size());
  for (size_t idx = 0; idx < items_after.size(); ++idx) {
    EXPECT_EQ(items_after[idx].status, items_before[idx].status);
    EXPECT_EQ(items_after[idx].result, items_before[idx].result);
    EXPECT_EQ(items_after[idx].lease_owner, items_before[idx].lease_owner);
    EXPECT_EQ(items_after[idx].lease_expires_ms, items_before[idx].lease_expires_ms);
  }
  auto deliveries_after = store_->get_deliveries(submitted.id);
  ASSERT_EQ(deliveries_after.size(), deliveries_before.size());
  for (size_t idx = 0; idx < deliveries_after.size(); ++idx) {
    EXPECT_EQ(deliveries_after[idx].event_id, deliveries_before[idx].event_id);
    EXPECT_EQ(deliveries_after[idx].status, deliveries_before[idx].status);
    EXPECT_EQ(deliveries_after[idx].body, deliveries_before[idx].body);
  }
  ASSERT_TRUE(store_->get_file(file_id).has_value());
  EXPECT_EQ(store_->get_file(file_id)->content, file.content);
  EXPECT_TRUE(store_->submit(request).existing);

  // Work goes on where it stopped.
  auto claims = store_->claim("w2", {}, 10, 60'000);
  ASSERT_EQ(claims.size(), 1u);
  EXPECT_EQ(claims[0].item.index, 2);
  EXPECT_TRUE(store_->complete("w1", submitted.id, 1, succeeded()));
  EXPECT_TRUE(store_->complete("w2", submitted.id, 2, succeeded()));
  EXPECT_EQ(job(submitted.id).status, JobStatus::kSucceeded);
}

TEST_P(JobStoreContract, BadArgumentsAreErrors) {
  submit(make_job(1));
  EXPECT_THROW(store_->claim("w1", {}, -1, 1'000), Error);
  EXPECT_THROW(store_->claim("w1", {}, 1, 0), Error);
  EXPECT_THROW(store_->claim("", {}, 1, 1'000), Error);
  EXPECT_THROW(store_->renew("w1", {}, 0), Error);
  EXPECT_THROW(store_->claim_deliveries("d1", -1, 1'000), Error);
  EXPECT_THROW(store_->claim_deliveries("d1", 1, 0), Error);
  EXPECT_EQ(store_->now_ms(), now());
}

INSTANTIATE_TEST_SUITE_P(Backends, JobStoreContract, ::testing::ValuesIn(testing::store_backends()),
                         [](const ::testing::TestParamInfo<StoreBackend>& info) { return info.param.name; });

}  // namespace
}  // namespace tether::store
