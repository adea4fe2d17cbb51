#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "cli/serve_config.h"
#include "engine/gguf/gguf_file.h"
#include "engine/tokenizer/tokenizer.h"
#include "metrics/registry.h"
#include "sched/engine.h"

namespace tether::cli {

// The model `tether serve` loaded.
struct ServedModel {
  std::string name;  // the id clients send (config.served_model_name())
  std::shared_ptr<const gguf::GgufFile> file;  // metadata: chat template, context length
  std::shared_ptr<const tokenizer::Tokenizer> tokenizer;
  std::shared_ptr<sched::Engine> engine;
};

// What `tether serve` shares with its routes. The server listens before the
// model is loaded (so /health and /ready answer at once); the loader sets
// the model once, and handlers read it only after ready() says so.
class ServeState {
 public:
  ServeState(const ServeConfig& config, metrics::Registry& metrics) : config_(config), metrics_(metrics) {}

  const ServeConfig& config() const { return config_; }
  metrics::Registry& metrics() const { return metrics_; }

  bool ready() const { return ready_.load(std::memory_order_acquire); }
  // Only after ready() returned true.
  const ServedModel& model() const { return model_; }
  // Once, by the loader.
  void set_model(ServedModel model) {
    model_ = std::move(model);
    ready_.store(true, std::memory_order_release);
  }
  // Before the engine is destroyed: routes and metrics stop using it.
  void set_unready() { ready_.store(false, std::memory_order_release); }

 private:
  const ServeConfig& config_;
  metrics::Registry& metrics_;
  std::atomic<bool> ready_{false};  // publishes model_
  ServedModel model_;
};

}  // namespace tether::cli
