#include "store/job_store.h"

#include <set>

#include <gtest/gtest.h>

#include "common/error.h"
#include "store/store_ids.h"

namespace tether::store {
namespace {

TEST(JobStoreNames, StatusNamesRoundTrip) {
  for (auto status : {JobStatus::kQueued, JobStatus::kRunning, JobStatus::kSucceeded, JobStatus::kFailed,
                      JobStatus::kCancelled, JobStatus::kExpired}) {
    EXPECT_EQ(parse_job_status(job_status_name(status)), status);
  }
  for (auto status : {ItemStatus::kQueued, ItemStatus::kRunning, ItemStatus::kSucceeded, ItemStatus::kFailed,
                      ItemStatus::kCancelled, ItemStatus::kExpired}) {
    EXPECT_EQ(parse_item_status(item_status_name(status)), status);
  }
  for (auto status : {DeliveryStatus::kPending, DeliveryStatus::kDelivered, DeliveryStatus::kDead}) {
    EXPECT_EQ(parse_delivery_status(delivery_status_name(status)), status);
  }
  EXPECT_EQ(job_status_name(JobStatus::kCancelled), "cancelled");
  EXPECT_EQ(item_status_name(ItemStatus::kExpired), "expired");
  EXPECT_EQ(delivery_status_name(DeliveryStatus::kDead), "dead");
  EXPECT_TRUE(is_terminal(JobStatus::kExpired));
  EXPECT_FALSE(is_terminal(JobStatus::kRunning));
  EXPECT_TRUE(is_terminal(ItemStatus::kCancelled));
  EXPECT_FALSE(is_terminal(ItemStatus::kQueued));
}

TEST(JobStoreNames, UnknownNamesAreCorruptData) {
  for (auto parse : {+[](std::string_view name) { parse_job_status(name); },
                     +[](std::string_view name) { parse_item_status(name); },
                     +[](std::string_view name) { parse_delivery_status(name); }}) {
    try {
      parse("Queued");
      FAIL() << "'Queued' parsed";
    } catch (const Error& error) {
      EXPECT_EQ(error.code(), ErrorCode::kCorruptData);
    }
  }
}

TEST(JobStoreEvents, EventBodyNamesTheJobAndTime) {
  Job job;
  job.id = "job_0123456789abcdef01234567";
  job.model = "@cf/meta/llama";
  job.status = JobStatus::kExpired;
  // 2026-12-04T23:10:00.123Z
  std::string body = event_body("failed", job, "evt_1", 1796425800123);
  EXPECT_EQ(body,
            R"({"type":"tether.model.batch.failed","source":{"type":"tether.model","modelName":"@cf/meta/llama"},)"
            R"("payload":{"requestId":"job_0123456789abcdef01234567","status":"expired"},)"
            R"("metadata":{"eventId":"evt_1","eventTimestamp":"2026-12-04T23:10:00.123Z","eventSchemaVersion":1}})");
  EXPECT_NE(event_body("queued", job, "e", 5).find("\"1970-01-01T00:00:00.005Z\""), std::string::npos);
}

TEST(JobStoreIds, NewIdsAreRandomHexWithThePrefix) {
  std::set<std::string> seen;
  for (int idx = 0; idx < 1000; ++idx) {
    std::string id = new_id("job_");
    ASSERT_EQ(id.size(), 28u);
    ASSERT_TRUE(id.starts_with("job_"));
    for (char c : id.substr(4)) ASSERT_TRUE((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) << id;
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 1000u);
  EXPECT_TRUE(new_id("file-").starts_with("file-"));
}

}  // namespace
}  // namespace tether::store
