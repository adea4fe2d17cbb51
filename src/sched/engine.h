#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "engine/generation/generation_request.h"
#include "engine/model/llama_model.h"
#include "engine/sampling/sampler.h"
#include "engine/tokenizer/tokenizer.h"
#include "kv/block_pool.h"
#include "kv/kv_block_storage.h"
#include "sched/schedule_policy.h"

namespace tether::sched {

struct EngineOptions {
  int32_t block_tokens = 16;
  size_t kv_memory_bytes = size_t{256} << 20;  // KV pool budget -> number of blocks
  kv::KvType kv_type = kv::KvType::kF16;
  int32_t step_token_budget = 256;  // tokens per forward step, decode + prefill chunks
  int32_t max_running = 32;         // sequences in one step
  int32_t max_queued = 256;         // waiting requests beyond this: submit answers kFull
  bool prefix_caching = true;
  // Async sequences sit out the steps in which interactive ones prefill
  // (SchedulerSnapshot::async_yields_to_prefill).
  bool async_yields_to_prefill = true;
  // With it, async prefill takes at most this many tokens a step, all async
  // sequences together (SchedulerSnapshot::async_prefill_chunk; 0 = no cap).
  int32_t async_prefill_chunk = 32;
  int threads = 2;  // compute threads (the engine owns a ThreadPool); 0 = one per core
  // Persistent prefix cache: when set (and prefix_caching is on), computed
  // blocks are saved under this directory as their sequences finish or are
  // preempted, and at shutdown; a prompt's missing prefix blocks are loaded
  // from it before prefilling, after checks of the model's identity and of
  // each block's hash. A restarted engine so answers its first warm turn from
  // disk. persistent_cache_max_bytes > 0 bounds the directory (oldest files go).
  std::filesystem::path persistent_cache_dir;
  uint64_t persistent_cache_max_bytes = 0;
  // For tests: after every step, check the block pool against all live block
  // tables (O(blocks)); a violation is reported in EngineStats.
  bool check_invariants = false;
};

struct Request {
  generation::GenerationRequest generation;  // prompt, sampling, stop strings, max_tokens
  std::string cache_salt;                    // tenants share cache only under equal salts
  Priority priority = Priority::kInteractive;
};

// How a request ended.
enum class RequestStatus {
  kCompleted,  // stop string, EOS/EOT or max_tokens (see the result's finish_reason)
  kCancelled,  // cancel() or engine shutdown; the result holds what was generated
  kFailed,     // see RequestUsage::error (e.g. the KV pool cannot hold it)
};

std::string_view request_status_name(RequestStatus status);

// Accounting of one request; times from submit().
struct RequestUsage {
  RequestStatus status = RequestStatus::kCompleted;
  std::string error;                 // when failed
  int32_t prompt_tokens = 0;
  int32_t cached_prompt_tokens = 0;  // prompt tokens served from the prefix cache (first start)
  int32_t completion_tokens = 0;
  double queue_ms = 0;   // submit to first start
  double ttft_ms = 0;    // submit to first token
  double decode_ms = 0;  // first token to last
  double total_ms = 0;   // submit to finish
  int32_t preemptions = 0;
};

// Called on the scheduler thread; must not block long. An exception thrown
// by a callback cancels its request.
struct Callbacks {
  // Every sampled token, with the text it released (may be empty: an
  // unfinished UTF-8 character, a possible stop string held back).
  std::function<void(std::string_view text_piece, const sampling::SampledToken&)> on_token;
  // Exactly once per accepted request, also when cancelled or failed.
  std::function<void(const generation::GenerationResult&, const RequestUsage&)> on_finish;
};

struct SubmitResult {
  SubmitStatus status = SubmitStatus::kAccepted;
  uint64_t id = 0;    // when accepted
  std::string error;  // when not
};

struct EngineStats {
  kv::KvCacheStats kv;     // queries, hits, evictions; blocks used / free / cached
  int32_t running = 0;     // sequences started and not finished
  int32_t waiting = 0;     // accepted, not started (preempted ones included)
  int32_t running_async = 0;  // of running, those of Priority::kAsync
  int32_t waiting_async = 0;  // of waiting, those of Priority::kAsync
  uint64_t steps = 0;      // forward steps run
  uint64_t step_tokens = 0;       // tokens those steps computed
  uint64_t preemptions = 0;
  uint64_t submitted = 0;  // accepted requests
  uint64_t rejected = 0;   // kFull answers
  uint64_t completed = 0;
  uint64_t cancelled = 0;
  uint64_t failed = 0;
  double forward_ms = 0;   // time in the model's forward
  double schedule_ms = 0;  // time in everything else a step does (plan, blocks, sampling)
  uint64_t spilled_blocks = 0;   // persistent cache: blocks written to disk
  uint64_t restored_blocks = 0;  // persistent cache: blocks loaded from disk
  uint64_t invariant_checks = 0;    // with EngineOptions::check_invariants
  std::string invariant_violation;  // the first failed check, empty if none
};

// Serves requests on one scheduler thread: continuous batching over a paged
// KV cache with prefix caching. Every step mixes the decode tokens of
// running sequences with prefill chunks under a token budget (see
// plan_step()); the thread sleeps when there is nothing to do.
class Engine {
 public:
  // Sizes the KV pool from options.kv_memory_bytes and starts the scheduler
  // thread. Throws Error(kInvalidArgument) for bad options (e.g. a budget
  // below one block).
  Engine(std::shared_ptr<model::LlamaModel> model,
         std::shared_ptr<const tokenizer::Tokenizer> tokenizer, EngineOptions options);
  // Stops the thread; unfinished requests finish as cancelled.
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Thread-safe; tokenizes on the caller's thread and never waits for
  // compute. kInvalid (with the reason) for a malformed request, kFull when
  // max_queued requests already wait.
  SubmitResult submit(Request request, Callbacks callbacks);
  // Thread-safe; the request's blocks are freed within one step and its
  // on_finish says kCancelled. Unknown or finished ids are ignored.
  void cancel(uint64_t id);
  // Thread-safe snapshot, refreshed after every step.
  EngineStats stats() const;
  const EngineOptions& options() const;
  // Blocks in the KV pool (from kv_memory_bytes).
  int32_t total_blocks() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Convenience for tests and benchmarks: submits and waits. Throws
// Error(kInvalidArgument) when the request is rejected (invalid or full) or
// fails; a cancelled request returns what it generated.
generation::GenerationResult run_to_completion(Engine& engine, Request request,
                                               RequestUsage* usage = nullptr);

}  // namespace tether::sched
