#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>

struct sqlite3;
struct sqlite3_stmt;

namespace tether::store {

// Throws Error(kIo, "sqlite: <what>: <sqlite's message>") for result code `rc`.
[[noreturn]] void throw_sqlite(sqlite3* db, int rc, std::string_view what);

// Bytes bound as a BLOB (binary-safe, NULs included) instead of TEXT.
struct Blob {
  std::string_view bytes;
};

// One prepared statement. Parameters are 1-based, columns 0-based, as in
// SQLite. Not thread-safe: its connection's owner serializes use.
class SqliteStatement {
 public:
  SqliteStatement(sqlite3* db, std::string_view sql);
  ~SqliteStatement();
  SqliteStatement(const SqliteStatement&) = delete;
  SqliteStatement& operator=(const SqliteStatement&) = delete;

  void bind(int param, int64_t value);
  void bind(int param, std::string_view text);
  void bind(int param, Blob blob);
  void bind(int param, const std::string& text) { bind(param, std::string_view(text)); }
  void bind(int param, const char* text) { bind(param, std::string_view(text)); }
  template <typename Int>
    requires std::is_integral_v<Int>
  void bind(int param, Int value) {
    bind(param, static_cast<int64_t>(value));
  }
  // Binds the values to parameters 1, 2, ...
  template <typename... Values>
  void bind_all(const Values&... values) {
    int param = 0;
    (bind(++param, values), ...);
  }

  // Runs to the next row: true when there is one to read.
  bool step();
  // Runs a statement that returns no rows (or ignores them).
  void run();
  // Ready to run again: rows dropped, bindings cleared.
  void reset();

  int64_t int64(int column) const;
  std::string text(int column) const;  // "" for NULL
  bool is_null(int column) const;

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
  std::string label_;  // the start of the SQL, for error messages
};

// Statements prepared once per connection and reused. `use` hands one out
// reset and unbound, and resets it again when the handle goes, so that no
// half-read statement holds its read snapshot open. Do not use the same
// SQL text twice at once.
class StatementCache {
 public:
  class Handle {
   public:
    explicit Handle(SqliteStatement* statement) : statement_(statement) {}
    ~Handle() { statement_->reset(); }
    Handle(const Handle&) = delete;
    Handle& operator=(const Handle&) = delete;
    SqliteStatement* operator->() const { return statement_; }
    SqliteStatement& operator*() const { return *statement_; }

   private:
    SqliteStatement* statement_;
  };

  explicit StatementCache(sqlite3* db) : db_(db) {}
  Handle use(std::string_view sql);
  void clear() { statements_.clear(); }

 private:
  sqlite3* db_;
  std::unordered_map<std::string, std::unique_ptr<SqliteStatement>> statements_;
};

}  // namespace tether::store
