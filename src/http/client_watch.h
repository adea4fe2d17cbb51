#pragma once

#include <atomic>
#include <functional>
#include <vector>

namespace tether::http {

// Whether the client of one exchange is still there. The server marks it gone
// when the socket reports end-of-stream or an error (it reads concurrently
// while the handler runs), when a write fails, or when a drain deadline
// closes the connection. Listeners run on the connection's strand.
class ClientWatch {
 public:
  bool gone() const { return gone_.load(std::memory_order_acquire); }

  // On the strand. Runs `listener` now when already gone.
  void add_listener(std::function<void()> listener) {
    if (gone()) {
      listener();
      return;
    }
    listeners_.push_back(std::move(listener));
  }

  // On the strand; the first call runs the listeners once.
  void mark_gone() {
    if (gone_.exchange(true, std::memory_order_acq_rel)) return;
    std::vector<std::function<void()>> listeners = std::move(listeners_);
    listeners_.clear();
    for (auto& listener : listeners) listener();
  }

 private:
  std::atomic<bool> gone_{false};
  std::vector<std::function<void()>> listeners_;  // strand only
};

}  // namespace tether::http
