#include "store/sqlite_statement.h"

#include <sqlite3.h>

#include "common/error.h"

namespace tether::store {

void throw_sqlite(sqlite3* db, int rc, std::string_view what) {
  const char* message = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  throw_error(ErrorCode::kIo, "sqlite: {}: {}", what, message != nullptr ? message : sqlite3_errstr(rc));
}

SqliteStatement::SqliteStatement(sqlite3* db, std::string_view sql) : db_(db) {
  std::string_view head = sql.substr(0, 60);
  while (!head.empty() && (head.front() == ' ' || head.front() == '\n')) head.remove_prefix(1);
  label_ = std::string(head.substr(0, head.find('\n')));
  int rc = sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &stmt_,
                              nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt_);
    stmt_ = nullptr;
    throw_sqlite(db, rc, "prepare '" + label_ + "'");
  }
}

SqliteStatement::~SqliteStatement() { sqlite3_finalize(stmt_); }

void SqliteStatement::bind(int param, int64_t value) {
  int rc = sqlite3_bind_int64(stmt_, param, value);
  if (rc != SQLITE_OK) throw_sqlite(db_, rc, "bind '" + label_ + "'");
}

void SqliteStatement::bind(int param, std::string_view text) {
  // An empty view may have a null data(): bind "" so that it stays TEXT, not NULL.
  int rc = sqlite3_bind_text64(stmt_, param, text.empty() ? "" : text.data(), text.size(), SQLITE_TRANSIENT,
                               SQLITE_UTF8);
  if (rc != SQLITE_OK) throw_sqlite(db_, rc, "bind '" + label_ + "'");
}

void SqliteStatement::bind(int param, Blob blob) {
  int rc = sqlite3_bind_blob64(stmt_, param, blob.bytes.empty() ? "" : blob.bytes.data(), blob.bytes.size(),
                               SQLITE_TRANSIENT);
  if (rc != SQLITE_OK) throw_sqlite(db_, rc, "bind '" + label_ + "'");
}

bool SqliteStatement::step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  throw_sqlite(db_, rc, "'" + label_ + "'");
}

void SqliteStatement::run() {
  while (step()) {
  }
}

void SqliteStatement::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

int64_t SqliteStatement::int64(int column) const { return sqlite3_column_int64(stmt_, column); }

std::string SqliteStatement::text(int column) const {
  // Blob access reads TEXT and BLOB alike, NULs included.
  const void* bytes = sqlite3_column_blob(stmt_, column);
  int size = sqlite3_column_bytes(stmt_, column);
  if (bytes == nullptr || size <= 0) return {};
  return std::string(static_cast<const char*>(bytes), static_cast<size_t>(size));
}

bool SqliteStatement::is_null(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }

StatementCache::Handle StatementCache::use(std::string_view sql) {
  auto found = statements_.find(std::string(sql));
  if (found == statements_.end()) {
    found = statements_.emplace(std::string(sql), std::make_unique<SqliteStatement>(db_, sql)).first;
  }
  found->second->reset();
  return Handle(found->second.get());
}

}  // namespace tether::store
