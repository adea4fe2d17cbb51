#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

// libpq's handles, declared here so that only pg_connection.cpp includes libpq-fe.h.
typedef struct pg_conn PGconn;
typedef struct pg_result PGresult;

namespace tether::store {

// A failed PostgreSQL call: Error(kIo, "postgres: <what>: <message>"),
// with the SQLSTATE ("40P01" deadlock, "23505" unique violation, ...) so
// that callers can retry what is worth retrying. Empty when there is none
// (the connection broke).
class PgError : public Error {
 public:
  PgError(std::string message, std::string sqlstate)
      : Error(ErrorCode::kIo, std::move(message)), sqlstate_(std::move(sqlstate)) {}
  const std::string& sqlstate() const { return sqlstate_; }
  // Deadlock or serialization failure: the transaction may simply run again.
  bool retryable() const { return sqlstate_ == "40P01" || sqlstate_ == "40001"; }

 private:
  std::string sqlstate_;
};

// Bound parameters of one statement, all sent as text except binary ones
// (bytea). Values are copied, so temporaries may be passed.
class PgParams {
 public:
  PgParams& text(std::string_view value);
  PgParams& int64(int64_t value);
  PgParams& boolean(bool value);
  PgParams& binary(std::string_view bytes);

  int size() const { return static_cast<int>(values_.size()); }
  // Pointers into this object; valid while it lives and is not changed.
  std::vector<const char*> value_pointers() const;
  std::vector<int> lengths() const;
  const std::vector<int>& formats() const { return formats_; }

 private:
  std::vector<std::string> values_;
  std::vector<int> formats_;
};

// A statement's result, owned. Text results unless asked for binary.
class PgResult {
 public:
  explicit PgResult(PGresult* result) : result_(result) {}
  PgResult(PgResult&& other) noexcept : result_(other.result_) { other.result_ = nullptr; }
  PgResult& operator=(PgResult&& other) noexcept;
  PgResult(const PgResult&) = delete;
  PgResult& operator=(const PgResult&) = delete;
  ~PgResult();

  int rows() const;
  int affected() const;  // rows an INSERT/UPDATE/DELETE touched
  bool is_null(int row, int col) const;
  std::string_view get(int row, int col) const;  // "" for NULL
  std::string text(int row, int col) const { return std::string(get(row, col)); }
  int64_t int64(int row, int col) const;  // of a text-format integer column; 0 for NULL
  bool boolean(int row, int col) const;   // of a text-format boolean column
  const PGresult* raw() const { return result_; }

 private:
  PGresult* result_;
};

// One libpq connection, used by one caller at a time.
class PgConnection {
 public:
  // Error(kIo) when it cannot connect.
  explicit PgConnection(const std::string& conninfo);
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;
  ~PgConnection();

  // Runs one statement with bound parameters; throws PgError on failure,
  // naming `what`. binary_result asks for every column in binary format.
  PgResult exec(std::string_view what, const char* sql, const PgParams& params = {}, bool binary_result = false);
  // For statements without parameters (BEGIN, COMMIT, ...).
  void exec_simple(std::string_view what, const char* sql);

  bool ok() const;
  // Reconnects a broken connection; throws PgError when that fails.
  void reset();

 private:
  [[noreturn]] void fail(std::string_view what, const PGresult* result) const;

  PGconn* conn_ = nullptr;
};

// Big-endian int8 of a binary-format result column.
int64_t pg_binary_int64(std::string_view bytes);

}  // namespace tether::store
