#include "store/pg_pool.h"

namespace tether::store {

PgPool::PgPool(const std::string& conninfo, int size) {
  if (size < 1) throw_error(ErrorCode::kInvalidArgument, "postgres: a connection pool needs at least one connection");
  for (int conn_idx = 0; conn_idx < size; ++conn_idx) idle_.push_back(std::make_unique<PgConnection>(conninfo));
}

PgPool::Lease PgPool::acquire() {
  std::unique_ptr<PgConnection> conn;
  {
    std::unique_lock lock(mutex_);
    available_.wait(lock, [&] { return !idle_.empty(); });
    conn = std::move(idle_.back());
    idle_.pop_back();
  }
  Lease lease(*this, std::move(conn));
  if (!lease->ok()) lease->reset();  // throws, and the lease hands it back for a later try
  return lease;
}

void PgPool::give_back(std::unique_ptr<PgConnection> conn) {
  {
    std::lock_guard lock(mutex_);
    idle_.push_back(std::move(conn));
  }
  available_.notify_one();
}

}  // namespace tether::store
