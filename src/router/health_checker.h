#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>

#include "router/upstream.h"

namespace tether::router {

// Active health checks: probes every upstream (Upstream::probe) at once on
// start() and then every health_interval, until stop(), and reports each
// result. Thread-safe; the probes run on a strand of `executor`.
class HealthChecker {
 public:
  using Callback = std::function<void(const std::string& upstream_id, bool healthy)>;

  HealthChecker(boost::asio::any_io_executor executor, std::vector<std::shared_ptr<Upstream>> upstreams,
                Callback on_result);
  ~HealthChecker();  // stops
  HealthChecker(const HealthChecker&) = delete;
  HealthChecker& operator=(const HealthChecker&) = delete;

  void start();
  // Idempotent. A probe under way finishes within its timeouts; its result
  // is not reported.
  void stop();

  struct State;  // shared with the probe loops

 private:
  std::shared_ptr<State> state_;
};

}  // namespace tether::router
