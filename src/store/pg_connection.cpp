#include "store/pg_connection.h"

#include <charconv>

#include <libpq-fe.h>

namespace tether::store {
namespace {

// libpq's messages end in a newline and may span lines ("DETAIL: ...");
// errors here are one line.
std::string one_line(std::string_view message) {
  std::string out;
  out.reserve(message.size());
  for (char c : message) out += (c == '\n' || c == '\r') ? ' ' : c;
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out.empty() ? "unknown error" : out;
}

}  // namespace

PgParams& PgParams::text(std::string_view value) {
  values_.emplace_back(value);
  formats_.push_back(0);
  return *this;
}

PgParams& PgParams::int64(int64_t value) { return text(std::to_string(value)); }

PgParams& PgParams::boolean(bool value) { return text(value ? "true" : "false"); }

PgParams& PgParams::binary(std::string_view bytes) {
  values_.emplace_back(bytes);
  formats_.push_back(1);
  return *this;
}

std::vector<const char*> PgParams::value_pointers() const {
  std::vector<const char*> pointers;
  pointers.reserve(values_.size());
  for (const auto& value : values_) pointers.push_back(value.data());
  return pointers;
}

std::vector<int> PgParams::lengths() const {
  std::vector<int> lengths;
  lengths.reserve(values_.size());
  for (const auto& value : values_) lengths.push_back(static_cast<int>(value.size()));
  return lengths;
}

PgResult& PgResult::operator=(PgResult&& other) noexcept {
  if (this != &other) {
    if (result_) PQclear(result_);
    result_ = other.result_;
    other.result_ = nullptr;
  }
  return *this;
}

PgResult::~PgResult() {
  if (result_) PQclear(result_);
}

int PgResult::rows() const { return result_ ? PQntuples(result_) : 0; }

int PgResult::affected() const {
  if (!result_) return 0;
  const char* count = PQcmdTuples(result_);
  int value = 0;
  std::from_chars(count, count + std::char_traits<char>::length(count), value);
  return value;
}

bool PgResult::is_null(int row, int col) const { return PQgetisnull(result_, row, col) != 0; }

std::string_view PgResult::get(int row, int col) const {
  if (is_null(row, col)) return {};
  return std::string_view(PQgetvalue(result_, row, col), static_cast<size_t>(PQgetlength(result_, row, col)));
}

int64_t PgResult::int64(int row, int col) const {
  std::string_view text = get(row, col);
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) {
    throw_error(ErrorCode::kCorruptData, "postgres: column {} is not an integer: '{}'", PQfname(result_, col), text);
  }
  return value;
}

bool PgResult::boolean(int row, int col) const { return get(row, col) == "t"; }

PgConnection::PgConnection(const std::string& conninfo) {
  conn_ = PQconnectdb(conninfo.c_str());
  if (conn_ == nullptr) throw PgError("postgres: connect: out of memory", "");
  if (PQstatus(conn_) != CONNECTION_OK) {
    std::string message = one_line(PQerrorMessage(conn_));
    PQfinish(conn_);
    conn_ = nullptr;
    throw PgError("postgres: connect: " + message, "");
  }
  // Notices ("relation already exists, skipping") are not errors; keep them off stderr.
  PQsetNoticeProcessor(conn_, [](void*, const char*) {}, nullptr);
}

PgConnection::~PgConnection() {
  if (conn_) PQfinish(conn_);
}

bool PgConnection::ok() const { return conn_ != nullptr && PQstatus(conn_) == CONNECTION_OK; }

void PgConnection::reset() {
  PQreset(conn_);
  if (PQstatus(conn_) != CONNECTION_OK) {
    throw PgError("postgres: reconnect: " + one_line(PQerrorMessage(conn_)), "");
  }
}

void PgConnection::fail(std::string_view what, const PGresult* result) const {
  std::string message = one_line(result ? PQresultErrorMessage(result) : PQerrorMessage(conn_));
  if (result && message == "unknown error") message = one_line(PQerrorMessage(conn_));
  const char* state = result ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  throw PgError(fmt::format("postgres: {}: {}", what, message), state ? state : "");
}

PgResult PgConnection::exec(std::string_view what, const char* sql, const PgParams& params, bool binary_result) {
  auto values = params.value_pointers();
  auto lengths = params.lengths();
  PgResult result(PQexecParams(conn_, sql, params.size(), nullptr, values.data(), lengths.data(),
                               params.formats().data(), binary_result ? 1 : 0));
  ExecStatusType status = result.raw() ? PQresultStatus(result.raw()) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) fail(what, result.raw());
  return result;
}

void PgConnection::exec_simple(std::string_view what, const char* sql) { exec(what, sql); }

int64_t pg_binary_int64(std::string_view bytes) {
  if (bytes.size() != 8) {
    throw_error(ErrorCode::kCorruptData, "postgres: a binary int8 has {} bytes, not 8", bytes.size());
  }
  uint64_t value = 0;
  for (char byte : bytes) value = (value << 8) | static_cast<uint8_t>(byte);
  return static_cast<int64_t>(value);
}

}  // namespace tether::store
