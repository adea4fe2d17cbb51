#include "store/pg_job_store.h"

#include <atomic>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "common/error.h"
#include "store/pg_connection.h"
#include "store/pg_test_server.h"

namespace tether::store {
namespace {

using tether::testing::PgTestServer;

// Two "gateways" on one fresh database; each PgJobStore has its own pool.
class PgJobStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    PgTestServer* server = PgTestServer::shared();
    if (server == nullptr) GTEST_SKIP() << PgTestServer::unavailable_reason();
    url_ = server->create_database();
  }

  std::unique_ptr<PgJobStore> open(int pool_size = 4) {
    StoreOptions options;
    options.clock = [this] { return now_.load(); };
    return std::make_unique<PgJobStore>(url_, options, pool_size);
  }

  static NewJob job_of(int items, std::vector<std::string> webhooks = {}) {
    NewJob job;
    job.kind = "batch";
    job.model = "tiny";
    job.endpoint = "/v1/chat/completions";
    job.webhook_urls = std::move(webhooks);
    for (int item_idx = 0; item_idx < items; ++item_idx) {
      job.items.push_back({"\"c" + std::to_string(item_idx) + "\"", R"({"messages":[]})"});
    }
    return job;
  }

  static ItemOutcome success() {
    ItemOutcome outcome;
    outcome.http_status = 200;
    outcome.result = R"({"ok":true})";
    outcome.prompt_tokens = 3;
    return outcome;
  }

  std::string url_;
  std::atomic<int64_t> now_{1'700'000'000'000};
};

TEST_F(PgJobStoreTest, TwoGatewaysClaimingFromManyThreadsNeverShareAnItem) {
  auto gateway_a = open();
  auto gateway_b = open();
  std::vector<std::string> job_ids;
  for (int job_idx = 0; job_idx < 3; ++job_idx) {
    job_ids.push_back(gateway_a->submit(job_of(100, {"http://hooks.test/" + std::to_string(job_idx)})).job.id);
  }

  std::mutex mutex;
  std::map<std::string, int> claimed;  // "job/index" -> times handed out
  std::vector<std::thread> workers;
  for (int worker_idx = 0; worker_idx < 8; ++worker_idx) {
    PgJobStore* store = worker_idx % 2 == 0 ? gateway_a.get() : gateway_b.get();
    workers.emplace_back([&, store, worker_idx] {
      std::string owner = "worker-" + std::to_string(worker_idx);
      while (true) {
        auto claims = store->claim(owner, {"tiny"}, 1 + worker_idx % 5, 60'000);
        if (claims.empty()) break;
        for (const auto& claim : claims) {
          {
            std::lock_guard lock(mutex);
            ++claimed[claim.item.job_id + "/" + std::to_string(claim.item.index)];
          }
          EXPECT_EQ(claim.item.lease_owner, owner);
          EXPECT_TRUE(store->complete(owner, claim.item.job_id, claim.item.index, success()));
        }
      }
    });
  }
  for (auto& worker : workers) worker.join();

  ASSERT_EQ(claimed.size(), 300u);
  for (const auto& [key, times] : claimed) EXPECT_EQ(times, 1) << key;
  for (const auto& job_id : job_ids) {
    auto job = gateway_b->get_job(job_id);
    ASSERT_TRUE(job);
    EXPECT_EQ(job->status, JobStatus::kSucceeded);
    EXPECT_EQ(job->counts.succeeded, 100);
    EXPECT_EQ(job->prompt_tokens, 300);
    // However many workers raced on the job, one event of each kind.
    std::vector<std::string> events;
    for (const auto& delivery : gateway_b->get_deliveries(job_id)) events.push_back(delivery.event_type);
    EXPECT_EQ(events, (std::vector<std::string>{"queued", "running", "succeeded"}));
  }
}

TEST_F(PgJobStoreTest, AnExpiredLeaseGoesToTheOtherGatewayAndTheFirstOwnerLosesIt) {
  auto gateway_a = open();
  auto gateway_b = open();
  std::string job_id = gateway_a->submit(job_of(1)).job.id;

  auto first = gateway_a->claim("a", {}, 10, 1'000);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_TRUE(gateway_b->claim("b", {}, 10, 1'000).empty());
  EXPECT_EQ(gateway_b->requeue_expired_leases(), 0);  // not expired yet

  now_ += 1'000;  // the lease ends; "a" crashed or stalled
  EXPECT_EQ(gateway_b->requeue_expired_leases(), 1);
  auto second = gateway_b->claim("b", {}, 10, 1'000);
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].item.attempts, 2);
  EXPECT_EQ(second[0].item.lease_owner, "b");

  EXPECT_FALSE(gateway_a->complete("a", job_id, 0, success()));
  EXPECT_FALSE(gateway_a->release("a", job_id, 0));
  auto renewal = gateway_a->renew("a", {{job_id, 0}}, 1'000);
  EXPECT_EQ(renewal.lost, (std::vector<std::string>{job_id + "/0"}));
  EXPECT_EQ(gateway_a->get_items(job_id)[0].lease_owner, "b");  // nothing written by "a"

  EXPECT_TRUE(gateway_b->complete("b", job_id, 0, success()));
  EXPECT_EQ(gateway_a->get_job(job_id)->status, JobStatus::kSucceeded);
}

// Claims, completions, releases, cancels and lease sweeps from two gateways
// at once take rows in different orders; whatever deadlocks the server
// breaks must be rerun, and every job must still end exactly once.
TEST_F(PgJobStoreTest, MixedConcurrentCallsFromTwoGatewaysEndEveryJobOnce) {
  auto gateway_a = open();
  auto gateway_b = open();
  std::vector<std::string> job_ids;
  for (int job_idx = 0; job_idx < 6; ++job_idx) {
    job_ids.push_back(gateway_a->submit(job_of(30, {"http://hooks.test/h"})).job.id);
  }
  std::atomic<bool> done{false};
  std::mutex mutex;
  std::vector<std::string> errors;
  auto record = [&](const std::exception& error) {
    std::lock_guard lock(mutex);
    errors.push_back(error.what());
  };
  auto all_terminal = [&] {
    for (const auto& job_id : job_ids) {
      if (!is_terminal(gateway_a->get_job(job_id)->status)) return false;
    }
    return true;
  };

  std::vector<std::thread> threads;
  for (int worker_idx = 0; worker_idx < 6; ++worker_idx) {
    PgJobStore* store = worker_idx % 2 == 0 ? gateway_a.get() : gateway_b.get();
    threads.emplace_back([&, store, worker_idx] {
      std::mt19937 random(static_cast<uint32_t>(worker_idx));
      std::string owner = "w" + std::to_string(worker_idx);
      try {
        while (!done) {
          for (const auto& claim : store->claim(owner, {}, 3, 60'000)) {
            int choice = static_cast<int>(random() % 10);
            const Item& item = claim.item;
            if (choice < 2 && item.attempts < 3) {
              store->release(owner, item.job_id, item.index);
            } else {
              ItemOutcome outcome = success();
              if (choice == 2) outcome.status = ItemStatus::kFailed;
              store->complete(owner, item.job_id, item.index, outcome);
            }
          }
        }
      } catch (const std::exception& error) {
        record(error);
      }
    });
  }
  threads.emplace_back([&] {
    try {
      for (int job_idx = 0; job_idx < 3; ++job_idx) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        gateway_b->cancel(job_ids[static_cast<size_t>(job_idx) * 2]);
      }
      while (!done) {
        gateway_a->requeue_expired_leases();
        gateway_b->expire_overdue();
      }
    } catch (const std::exception& error) {
      record(error);
    }
  });
  for (int wait_idx = 0; wait_idx < 2000 && errors.empty() && !all_terminal(); ++wait_idx) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  done = true;
  for (auto& thread : threads) thread.join();

  EXPECT_EQ(errors, std::vector<std::string>{});
  for (size_t job_idx = 0; job_idx < job_ids.size(); ++job_idx) {
    auto job = gateway_a->get_job(job_ids[job_idx]);
    ASSERT_TRUE(is_terminal(job->status)) << job_ids[job_idx];
    const JobCounts& counts = job->counts;
    EXPECT_EQ(counts.succeeded + counts.failed + counts.cancelled, 30);
    std::map<ItemStatus, int> tally;
    for (const auto& item : gateway_a->get_items(job->id)) ++tally[item.status];
    EXPECT_EQ(tally[ItemStatus::kSucceeded], counts.succeeded);
    EXPECT_EQ(tally[ItemStatus::kCancelled], counts.cancelled);
    int terminal_events = 0;
    for (const auto& delivery : gateway_a->get_deliveries(job->id)) {
      terminal_events += delivery.event_type == "succeeded" || delivery.event_type == "failed";
    }
    EXPECT_EQ(terminal_events, 1) << job->id;
  }
}

TEST_F(PgJobStoreTest, ConcurrentSubmitsWithOneIdempotencyKeyMakeOneJob) {
  auto gateway_a = open();
  auto gateway_b = open();
  NewJob job = job_of(2);
  job.tenant = "acme";
  job.idempotency_key = "key-1";

  std::mutex mutex;
  std::set<std::string> ids;
  int created = 0;
  std::vector<std::thread> clients;
  for (int client_idx = 0; client_idx < 8; ++client_idx) {
    PgJobStore* store = client_idx % 2 == 0 ? gateway_a.get() : gateway_b.get();
    clients.emplace_back([&, store] {
      auto submitted = store->submit(job);
      std::lock_guard lock(mutex);
      ids.insert(submitted.job.id);
      if (!submitted.existing) ++created;
    });
  }
  for (auto& client : clients) client.join();

  EXPECT_EQ(ids.size(), 1u);
  EXPECT_EQ(created, 1);
  EXPECT_EQ(gateway_a->list_jobs({}).size(), 1u);
  EXPECT_EQ(gateway_a->get_items(*ids.begin()).size(), 2u);
  // The key belongs to its tenant: another tenant's submit is a new job.
  job.tenant = "other";
  EXPECT_FALSE(gateway_b->submit(job).existing);
}

TEST_F(PgJobStoreTest, TwoStoresCreateTheSchemaAtOnce) {
  for (int round = 0; round < 3; ++round) {
    if (round > 0) url_ = PgTestServer::shared()->create_database();
    std::vector<std::unique_ptr<PgJobStore>> stores(2);
    std::vector<std::string> errors(2);
    std::vector<std::thread> openers;
    for (int store_idx = 0; store_idx < 2; ++store_idx) {
      openers.emplace_back([&, store_idx] {
        try {
          stores[store_idx] = open(2);
        } catch (const std::exception& error) {
          errors[store_idx] = error.what();
        }
      });
    }
    for (auto& opener : openers) opener.join();
    ASSERT_EQ(errors, (std::vector<std::string>{"", ""}));
    std::string job_id = stores[0]->submit(job_of(1)).job.id;
    EXPECT_EQ(stores[1]->get_job(job_id)->counts.queued, 1);
  }
}

TEST_F(PgJobStoreTest, CancelWhileAnotherGatewayRunsAnItem) {
  auto gateway_a = open();
  auto gateway_b = open();
  std::string job_id = gateway_a->submit(job_of(3, {"http://hooks.test/x"})).job.id;
  auto claims = gateway_a->claim("a", {}, 1, 10'000);
  ASSERT_EQ(claims.size(), 1u);

  auto cancelled = gateway_b->cancel(job_id);
  ASSERT_TRUE(cancelled);
  EXPECT_TRUE(cancelled->cancel_requested);
  EXPECT_EQ(cancelled->status, JobStatus::kRunning);
  EXPECT_EQ(cancelled->counts.cancelled, 2);
  EXPECT_TRUE(gateway_b->claim("b", {}, 10, 10'000).empty());

  auto renewal = gateway_a->renew("a", {{job_id, 0}}, 10'000);
  EXPECT_EQ(renewal.cancelled, (std::vector<std::string>{job_id + "/0"}));
  EXPECT_TRUE(renewal.lost.empty());
  // A release of an item of a cancelled job cancels it rather than queueing it.
  EXPECT_TRUE(gateway_a->release("a", job_id, 0));
  auto job = gateway_b->get_job(job_id);
  EXPECT_EQ(job->status, JobStatus::kCancelled);
  EXPECT_EQ(job->counts.cancelled, 3);
  EXPECT_EQ(gateway_b->get_deliveries(job_id).back().event_type, "failed");
}

TEST_F(PgJobStoreTest, FilesKeepArbitraryBytes) {
  auto store = open(1);
  StoredFile file;
  file.purpose = "batch";
  file.filename = "in.jsonl";
  file.content = std::string("a\0b\xff\x01\n", 6) + std::string(100'000, 'x');
  StoredFile stored = store->put_file(file);
  EXPECT_TRUE(stored.id.starts_with("file-"));
  auto read = store->get_file(stored.id);
  ASSERT_TRUE(read);
  EXPECT_EQ(read->content, file.content);
  EXPECT_EQ(read->created_ms, now_.load());
  EXPECT_EQ(read->filename, "in.jsonl");
  EXPECT_FALSE(store->get_file("file-missing"));
}

TEST_F(PgJobStoreTest, AnUnreachableDatabaseIsAnIoError) {
  // The database name is the URL's path, before its query.
  std::string missing = url_.substr(0, url_.find('?')) + "_missing" + url_.substr(url_.find('?'));
  try {
    PgJobStore store(missing, {}, 1);
    FAIL() << "opened a database that does not exist";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::kIo);
    EXPECT_TRUE(std::string(error.what()).starts_with("postgres: connect: ")) << error.what();
  }
}

TEST_F(PgJobStoreTest, OpenJobStoreTakesBothPostgresSchemes) {
  ASSERT_TRUE(url_.starts_with("postgresql://"));
  std::string short_url = "postgres://" + url_.substr(std::string_view("postgresql://").size());
  auto first = open_job_store(url_);
  auto second = open_job_store(short_url);
  std::string job_id = first->submit(job_of(1)).job.id;
  EXPECT_TRUE(second->get_job(job_id));  // the same database
}

TEST_F(PgJobStoreTest, AnotherSchemaVersionIsRefused) {
  open(1);
  {
    PgConnection conn(url_);
    conn.exec("test", "UPDATE tether_schema SET version = 99");
  }
  try {
    open(1);
    FAIL() << "opened a store of schema version 99";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::kCorruptData);
    EXPECT_NE(std::string(error.what()).find("schema version 99"), std::string::npos) << error.what();
  }
}

TEST_F(PgJobStoreTest, DeliveriesAreHeldForOneDelivererAtATime) {
  auto gateway_a = open();
  auto gateway_b = open();
  std::string job_id = gateway_a->submit(job_of(1, {"http://hooks.test/1", "http://hooks.test/2"})).job.id;

  auto held = gateway_a->claim_deliveries("a", 10, 5'000);
  ASSERT_EQ(held.size(), 2u);
  EXPECT_EQ(held[0].event_id, held[1].event_id);  // one event, two targets
  EXPECT_TRUE(gateway_b->claim_deliveries("b", 10, 5'000).empty());

  gateway_a->mark_delivered(held[0].event_id, held[0].url);
  gateway_a->mark_attempt_failed(held[1].event_id, held[1].url, "HTTP 500", now_ + 2'000, false);
  EXPECT_TRUE(gateway_b->claim_deliveries("b", 10, 5'000).empty());  // not due yet
  now_ += 2'000;
  auto retried = gateway_b->claim_deliveries("b", 10, 5'000);
  ASSERT_EQ(retried.size(), 1u);
  EXPECT_EQ(retried[0].url, "http://hooks.test/2");
  EXPECT_EQ(retried[0].attempts, 1);
  EXPECT_EQ(retried[0].last_error, "HTTP 500");
  gateway_b->mark_attempt_failed(retried[0].event_id, retried[0].url, "HTTP 500", now_ + 4'000, true);
  auto deliveries = gateway_a->get_deliveries(job_id);
  ASSERT_EQ(deliveries.size(), 2u);
  EXPECT_EQ(deliveries[0].status, DeliveryStatus::kDelivered);
  EXPECT_EQ(deliveries[1].status, DeliveryStatus::kDead);
  EXPECT_EQ(deliveries[1].attempts, 2);
}

}  // namespace
}  // namespace tether::store
