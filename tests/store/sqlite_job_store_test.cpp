#include "store/sqlite_job_store.h"

#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>
#include <sqlite3.h>

#include "common/error.h"
#include "store/job_store.h"
#include "test_paths.h"

namespace tether::store {
namespace {

class SqliteJobStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testing::make_temp_dir("sqlite-store"); }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  void write_file(const std::filesystem::path& path, const std::string& bytes) {
    std::ofstream out(path, std::ios::binary);
    out << bytes;
  }

  // Runs SQL on the file through a connection of its own.
  void run_sql(const std::filesystem::path& path, const char* sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    char* message = nullptr;
    int rc = sqlite3_exec(db, sql, nullptr, nullptr, &message);
    std::string text = message != nullptr ? message : "";
    sqlite3_free(message);
    sqlite3_close(db);
    ASSERT_EQ(rc, SQLITE_OK) << text;
  }

  ErrorCode open_error(const std::string& url) {
    try {
      open_job_store(url);
    } catch (const Error& error) {
      message_ = error.what();
      return error.code();
    }
    ADD_FAILURE() << url << " opened";
    return ErrorCode::kInternal;
  }

  NewJob one_item_job() {
    NewJob job;
    job.kind = "single";
    job.model = "tiny";
    job.endpoint = "/v1/chat/completions";
    job.items.push_back(NewItem{"", "{}"});
    return job;
  }

  std::filesystem::path dir_;
  std::string message_;
};

TEST_F(SqliteJobStoreTest, UsesTheWalJournal) {
  auto path = dir_ / "jobs.db";
  {
    SqliteJobStore store(path.string(), {});
    EXPECT_EQ(store.journal_mode(), "wal");
    store.submit(one_item_job());
    EXPECT_TRUE(std::filesystem::exists(dir_ / "jobs.db-wal"));
  }
  SqliteJobStore reopened(path.string(), {});  // WAL is a property of the file: it stays
  EXPECT_EQ(reopened.journal_mode(), "wal");
  EXPECT_EQ(reopened.list_jobs({}).size(), 1u);
}

TEST_F(SqliteJobStoreTest, OpenJobStoreAcceptsPathsAndSqliteUrls) {
  auto plain = dir_ / "nested" / "plain.db";
  open_job_store(plain.string())->submit(one_item_job());
  EXPECT_TRUE(std::filesystem::exists(plain));
  auto url = dir_ / "more" / "url.db";
  auto store = open_job_store("sqlite:" + url.string());
  EXPECT_TRUE(std::filesystem::exists(url));
  auto* sqlite = dynamic_cast<SqliteJobStore*>(store.get());
  ASSERT_NE(sqlite, nullptr);
  EXPECT_EQ(sqlite->journal_mode(), "wal");
}

TEST_F(SqliteJobStoreTest, WithoutCreateAMissingFileIsNotFoundAndNotMade) {
  StoreOptions options;
  options.create = false;
  const auto missing = dir_ / "absent" / "jobs.db";
  try {
    open_job_store("sqlite:" + missing.string(), options);
    FAIL() << "opened a store that does not exist";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound);
  }
  EXPECT_FALSE(std::filesystem::exists(missing.parent_path()));
  const auto existing = dir_ / "jobs.db";
  open_job_store(existing.string())->submit(one_item_job());
  EXPECT_EQ(open_job_store(existing.string(), options)->list_jobs({}).size(), 1u);
}

TEST_F(SqliteJobStoreTest, OpenJobStoreRefusesOtherSchemes) {
  EXPECT_EQ(open_error("mysql://db.example/jobs"), ErrorCode::kInvalidArgument);
  EXPECT_NE(message_.find("mysql"), std::string::npos) << message_;
  EXPECT_EQ(open_error("sqlite:"), ErrorCode::kInvalidArgument);
  EXPECT_EQ(open_error(""), ErrorCode::kInvalidArgument);
}

TEST_F(SqliteJobStoreTest, ReopenSeesCommittedJobsFromAnotherConnection) {
  auto path = (dir_ / "jobs.db").string();
  std::string job_id;
  {
    auto store = open_job_store(path);
    job_id = store->submit(one_item_job()).job.id;
    // A second store on the same file (another process, in effect) sees it at once.
    auto other = open_job_store(path);
    auto seen = other->get_job(job_id);
    ASSERT_TRUE(seen.has_value());
    ASSERT_EQ(other->claim("w2", {}, 1, 1'000).size(), 1u);
    EXPECT_TRUE(store->claim("w1", {}, 1, 1'000).empty());
  }
  auto reopened = open_job_store(path);
  auto job = reopened->get_job(job_id);
  ASSERT_TRUE(job.has_value());
  EXPECT_EQ(job->status, JobStatus::kRunning);
  EXPECT_EQ(reopened->get_items(job_id)[0].lease_owner, "w2");
}

TEST_F(SqliteJobStoreTest, TwoConnectionsClaimingAtOnceNeverShareAnItem) {
  auto path = (dir_ / "jobs.db").string();
  auto first = open_job_store(path);
  auto second = open_job_store(path);  // as a second gateway process would
  NewJob job = one_item_job();
  for (int idx = 1; idx < 100; ++idx) job.items.push_back(NewItem{"", "{}"});
  std::string job_id = first->submit(job).job.id;
  std::mutex mutex;
  std::map<int, int> claimed;  // index -> times claimed
  std::vector<std::thread> threads;
  for (int worker = 0; worker < 4; ++worker) {
    threads.emplace_back([&, worker] {
      JobStore& store = worker % 2 == 0 ? *first : *second;
      for (;;) {
        auto claims = store.claim("w" + std::to_string(worker), {}, 2, 60'000);
        if (claims.empty()) return;
        std::lock_guard lock(mutex);
        for (const auto& claim : claims) claimed[claim.item.index]++;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(claimed.size(), 100u);
  for (const auto& [index, times] : claimed) EXPECT_EQ(times, 1) << index;
  EXPECT_EQ(second->get_job(job_id)->counts.running, 100);
}

TEST_F(SqliteJobStoreTest, AFileThatIsNotADatabaseIsAnError) {
  auto path = dir_ / "garbage.db";
  std::string bytes;
  for (int idx = 0; idx < 8192; ++idx) bytes.push_back(static_cast<char>((idx * 37) % 251));
  write_file(path, bytes);
  EXPECT_EQ(open_error(path.string()), ErrorCode::kIo);
  EXPECT_NE(message_.find("sqlite"), std::string::npos) << message_;
  EXPECT_NE(message_.find(path.string()), std::string::npos) << message_;

  auto text = dir_ / "notes.txt";
  write_file(text, "hello, this is not a database at all\n");
  EXPECT_EQ(open_error(text.string()), ErrorCode::kIo);
}

TEST_F(SqliteJobStoreTest, ADatabaseOfSomethingElseIsRefusedAndLeftAlone) {
  auto path = dir_ / "other.db";
  run_sql(path, "CREATE TABLE jobs (name TEXT); INSERT INTO jobs VALUES ('mine');");
  EXPECT_EQ(open_error(path.string()), ErrorCode::kCorruptData);
  EXPECT_NE(message_.find("not a tether job store"), std::string::npos) << message_;
  run_sql(path, "SELECT name FROM jobs");  // still there, untouched
}

TEST_F(SqliteJobStoreTest, AnotherSchemaVersionIsRefused) {
  auto path = dir_ / "future.db";
  open_job_store(path.string())->submit(one_item_job());
  run_sql(path, "PRAGMA user_version = 99");
  EXPECT_EQ(open_error(path.string()), ErrorCode::kCorruptData);
  EXPECT_NE(message_.find("99"), std::string::npos) << message_;
}

TEST_F(SqliteJobStoreTest, AnUnreadableStatusIsCorruptData) {
  auto path = dir_ / "jobs.db";
  std::string job_id = open_job_store(path.string())->submit(one_item_job()).job.id;
  run_sql(path, "UPDATE jobs SET status = 'weird'");
  auto store = open_job_store(path.string());
  try {
    store->get_job(job_id);
    FAIL() << "a job with status 'weird' was read";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::kCorruptData);
  }
}

TEST_F(SqliteJobStoreTest, AnUnopenablePathIsAnIoError) {
  auto file = dir_ / "file";
  write_file(file, "x");
  // A directory cannot be made under a regular file.
  EXPECT_EQ(open_error((file / "sub" / "jobs.db").string()), ErrorCode::kIo);
  EXPECT_EQ(open_error(dir_.string()), ErrorCode::kIo);  // a directory is no database
}

}  // namespace
}  // namespace tether::store
