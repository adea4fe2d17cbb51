#pragma once

#include <cstdint>
#include <functional>

namespace tether::kernels {

// A persistent pool of compute threads. The calling thread takes part in
// every parallel_for, so a pool of size 1 has no worker threads at all.
// One parallel_for runs at a time (the engine's scheduler thread owns the
// pool); calls are not reentrant.
class ThreadPool {
 public:
  // n_threads >= 1 counts the caller; 0 means one per hardware thread.
  explicit ThreadPool(int n_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const;

  // Splits [0, n_items) into contiguous chunks and runs fn(begin, end,
  // thread_idx) on every thread (thread_idx in [0, size())); returns when all
  // chunks are done. Chunks are handed out dynamically in multiples of
  // `grain` items so uneven work balances.
  void parallel_for(int64_t n_items, int64_t grain,
                    const std::function<void(int64_t begin, int64_t end, int thread_idx)>& fn);

 private:
  struct State;
  State* state_;
};

}  // namespace tether::kernels
