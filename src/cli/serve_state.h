#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "api/served_model.h"
#include "cli/serve_config.h"
#include "metrics/registry.h"

namespace tether::cli {

// What `tether serve` shares with its routes. The server listens before the
// model is loaded (so /health and /ready answer at once); the loader sets
// the model once, and handlers read it only after ready() says so.
class ServeState {
 public:
  ServeState(const ServeConfig& config, metrics::Registry& metrics) : config_(config), metrics_(metrics) {}

  const ServeConfig& config() const { return config_; }
  metrics::Registry& metrics() const { return metrics_; }

  bool ready() const { return ready_.load(std::memory_order_acquire); }
  // Only after ready() returned true: the served model's name, and its
  // local replicas (null for a gateway to upstreams only).
  const std::string& model_id() const { return model_id_; }
  const api::ServedModel* model() const { return model_.get(); }
  // Once, by the loader.
  void set_model(std::string id, std::shared_ptr<api::ServedModel> model) {
    model_id_ = std::move(id);
    model_ = std::move(model);
    ready_.store(true, std::memory_order_release);
  }
  // Before the engine is destroyed: routes and metrics stop using it.
  void set_unready() { ready_.store(false, std::memory_order_release); }

 private:
  const ServeConfig& config_;
  metrics::Registry& metrics_;
  std::atomic<bool> ready_{false};  // publishes model_
  std::string model_id_;
  std::shared_ptr<api::ServedModel> model_;
};

}  // namespace tether::cli
