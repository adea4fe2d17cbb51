#include "engine/kernels/thread_pool.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "common/error.h"

namespace tether::kernels {
namespace {

// Spinning a little before sleeping keeps the wake-up latency of back-to-back
// parallel_for calls (hundreds per decoded token) low without burning a core
// while the engine is idle.
constexpr int kSpinIterations = 20000;

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

}  // namespace

// A job is published by bumping `word`'s generation. Workers join it by
// incrementing its active count while it is open; when the caller has run out
// of chunks it closes the job and waits only for the workers that joined. So
// a worker the OS has not scheduled (the cores are shared) never delays a
// call: it finds the job closed when it wakes and goes back to sleep.
struct ThreadPool::State {
  static constexpr uint64_t kClosed = uint64_t{1} << 31;
  static constexpr uint64_t kActiveMask = kClosed - 1;
  static uint32_t generation_of(uint64_t word) { return static_cast<uint32_t>(word >> 32); }

  int n_threads = 1;
  std::vector<std::thread> workers;

  std::mutex mutex;
  std::condition_variable start_cv;
  std::condition_variable done_cv;
  // generation (high 32 bits) | closed flag (bit 31) | active workers.
  std::atomic<uint64_t> word{kClosed};
  bool stopping = false;

  // The job of the current generation; written before it is published.
  const std::function<void(int64_t, int64_t, int)>* fn = nullptr;
  int64_t n_items = 0;
  int64_t chunk = 1;
  std::atomic<int64_t> next{0};
  std::exception_ptr error;  // first exception thrown by fn, under mutex

  void run_chunks(int thread_idx) {
    for (;;) {
      const int64_t begin = next.fetch_add(chunk, std::memory_order_relaxed);
      if (begin >= n_items) break;
      const int64_t end = std::min(n_items, begin + chunk);
      try {
        (*fn)(begin, end, thread_idx);
      } catch (...) {
        std::lock_guard lock(mutex);
        if (!error) error = std::current_exception();
        // Skip the remaining chunks: the call fails anyway.
        next.store(n_items, std::memory_order_relaxed);
      }
    }
  }

  // Joins the published job if it is still open; false if it is closed.
  bool try_join(uint64_t observed) {
    while ((observed & kClosed) == 0) {
      if (word.compare_exchange_weak(observed, observed + 1, std::memory_order_acquire,
                                     std::memory_order_relaxed)) {
        return true;
      }
    }
    return false;
  }

  void worker_loop(int thread_idx) {
    // Generation 0 is the idle state the pool starts in; a worker that starts
    // late must still see a job published before it ran.
    uint32_t seen = 0;
    for (;;) {
      int spins = 0;
      while (generation_of(word.load(std::memory_order_acquire)) == seen &&
             spins < kSpinIterations) {
        cpu_relax();
        ++spins;
      }
      if (generation_of(word.load(std::memory_order_acquire)) == seen) {
        std::unique_lock lock(mutex);
        start_cv.wait(lock, [&] {
          return stopping || generation_of(word.load(std::memory_order_acquire)) != seen;
        });
        if (stopping) return;
      }
      const uint64_t observed = word.load(std::memory_order_acquire);
      seen = generation_of(observed);
      if (!try_join(observed)) continue;
      run_chunks(thread_idx);
      const uint64_t after = word.fetch_sub(1, std::memory_order_acq_rel) - 1;
      if ((after & kClosed) != 0 && (after & kActiveMask) == 0) {
        std::lock_guard lock(mutex);
        done_cv.notify_all();
      }
    }
  }
};

ThreadPool::ThreadPool(int n_threads) : state_(new State) {
  if (n_threads < 0) {
    delete state_;
    throw_error(ErrorCode::kInvalidArgument, "thread count must be >= 0, got {}", n_threads);
  }
  if (n_threads == 0) n_threads = std::max(1u, std::thread::hardware_concurrency());
  state_->n_threads = n_threads;
  try {
    for (int i = 1; i < n_threads; ++i) {
      state_->workers.emplace_back([s = state_, i] { s->worker_loop(i); });
    }
  } catch (...) {
    {
      std::lock_guard lock(state_->mutex);
      state_->stopping = true;
    }
    state_->start_cv.notify_all();
    for (auto& t : state_->workers) t.join();
    delete state_;
    throw;
  }
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard lock(state_->mutex);
    state_->stopping = true;
  }
  state_->start_cv.notify_all();
  for (auto& t : state_->workers) t.join();
  delete state_;
}

int ThreadPool::size() const { return state_->n_threads; }

void ThreadPool::parallel_for(int64_t n_items, int64_t grain,
                              const std::function<void(int64_t, int64_t, int)>& fn) {
  if (n_items <= 0) return;
  if (grain < 1) grain = 1;
  State& s = *state_;
  if (s.n_threads == 1 || n_items <= grain) {
    fn(0, n_items, 0);
    return;
  }
  // Several chunks per thread let fast threads take over work of slow ones
  // (the cores are shared), while keeping the atomic traffic small.
  const int64_t n_grains = (n_items + grain - 1) / grain;
  const int64_t grains_per_chunk = std::max<int64_t>(1, n_grains / (int64_t{s.n_threads} * 8));
  {
    std::lock_guard lock(s.mutex);
    s.fn = &fn;
    s.n_items = n_items;
    s.chunk = grains_per_chunk * grain;
    s.next.store(0, std::memory_order_relaxed);
    s.error = nullptr;
    const uint32_t generation = State::generation_of(s.word.load(std::memory_order_relaxed)) + 1;
    s.word.store(uint64_t{generation} << 32, std::memory_order_release);
  }
  s.start_cv.notify_all();
  s.run_chunks(0);
  // No chunks are left to hand out: close the job and wait for the workers
  // still running one.
  s.word.fetch_or(State::kClosed, std::memory_order_acq_rel);
  auto idle = [&] { return (s.word.load(std::memory_order_acquire) & State::kActiveMask) == 0; };
  int spins = 0;
  while (!idle() && spins < kSpinIterations) {
    cpu_relax();
    ++spins;
  }
  std::exception_ptr error;
  {
    std::unique_lock lock(s.mutex);
    s.done_cv.wait(lock, idle);
    error = s.error;
    s.error = nullptr;
    s.fn = nullptr;
  }
  if (error) std::rethrow_exception(error);
}

}  // namespace tether::kernels
