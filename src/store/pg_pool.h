#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "store/pg_connection.h"

namespace tether::store {

// A fixed set of connections, each lent to one caller at a time; a caller
// waits while all are lent. A connection found broken is reconnected when
// it is next lent.
class PgPool {
 public:
  // Opens all `size` connections now: Error(kIo) when the database cannot
  // be reached, so that a bad URL fails at start-up.
  PgPool(const std::string& conninfo, int size);

  class Lease {
   public:
    Lease(PgPool& pool, std::unique_ptr<PgConnection> conn) : pool_(&pool), conn_(std::move(conn)) {}
    Lease(Lease&& other) noexcept = default;
    Lease& operator=(Lease&&) = delete;
    ~Lease() {
      if (conn_) pool_->give_back(std::move(conn_));
    }
    PgConnection& operator*() { return *conn_; }
    PgConnection* operator->() { return conn_.get(); }

   private:
    PgPool* pool_;
    std::unique_ptr<PgConnection> conn_;
  };

  Lease acquire();

 private:
  void give_back(std::unique_ptr<PgConnection> conn);

  std::mutex mutex_;
  std::condition_variable available_;
  std::vector<std::unique_ptr<PgConnection>> idle_;  // guarded by mutex_
};

}  // namespace tether::store
