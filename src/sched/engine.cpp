#include "sched/engine.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <future>
#include <limits>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "common/error.h"
#include "engine/generation/sequence_output.h"
#include "engine/model/model_identity.h"
#include "kv/block_spill_store.h"
#include "kv/sequence_blocks.h"

namespace tether::sched {

std::string_view request_status_name(RequestStatus status) {
  switch (status) {
    case RequestStatus::kCompleted:
      return "completed";
    case RequestStatus::kCancelled:
      return "cancelled";
    case RequestStatus::kFailed:
      return "failed";
  }
  return "unknown";
}

namespace {

using Clock = std::chrono::steady_clock;

double ms_between(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double, std::milli>(to - from).count();
}

// Salt of a request that must share nothing: prefix caching off. The prefix
// "\x01" keeps it apart from any salt a client could choose by accident;
// the id makes it unique (a preempted sequence still finds its own blocks).
std::string private_salt(uint64_t id) { return "\x01tether-uncached-" + std::to_string(id); }

// One request from submit() to on_finish.
struct Sequence {
  Sequence(uint64_t id, Request& request, Callbacks callbacks, generation::PreparedPrompt prompt,
           kv::BlockPool& pool, std::string_view salt, int32_t n_vocab,
           const tokenizer::Tokenizer& tokenizer)
      : id(id),
        priority(request.priority),
        callbacks(std::move(callbacks)),
        blocks(pool, prompt.tokens, salt),
        output(request.generation, prompt.tokens, prompt.max_tokens, n_vocab, tokenizer),
        submitted_at(Clock::now()) {
    usage.prompt_tokens = static_cast<int32_t>(prompt.tokens.size());
  }

  uint64_t id;
  Priority priority;
  uint64_t arrival = 0;  // set by the scheduler thread when it takes the request
  Callbacks callbacks;
  kv::SequenceBlocks blocks;
  generation::SequenceOutput output;
  Clock::time_point submitted_at;
  std::optional<Clock::time_point> first_scheduled_at;
  Clock::time_point first_token_at;
  bool ever_started = false;
  bool finished = false;
  RequestUsage usage;
};

bool sequence_ranks_before(const std::unique_ptr<Sequence>& a, const std::unique_ptr<Sequence>& b) {
  if (a->priority != b->priority) return a->priority < b->priority;
  return a->arrival < b->arrival;
}

int32_t pool_blocks(const model::LlamaModel& model, const EngineOptions& options) {
  if (options.block_tokens < 1) {
    throw_error(ErrorCode::kInvalidArgument, "engine: block_tokens must be >= 1, got {}",
                options.block_tokens);
  }
  if (options.step_token_budget < 1 || options.max_running < 1 || options.max_queued < 0 ||
      options.threads < 0) {
    throw_error(ErrorCode::kInvalidArgument,
                "engine: step_token_budget and max_running must be >= 1, max_queued and threads >= 0");
  }
  const size_t block_bytes = kv::kv_block_bytes(model.kv_shape(options.block_tokens, options.kv_type));
  const size_t n_blocks = options.kv_memory_bytes / block_bytes;  // block_bytes > 0
  if (n_blocks < 1) {
    throw_error(ErrorCode::kInvalidArgument,
                "engine: a KV memory budget of {} bytes holds no block ({} bytes for {} tokens)",
                options.kv_memory_bytes, block_bytes, options.block_tokens);
  }
  return static_cast<int32_t>(std::min<size_t>(n_blocks, std::numeric_limits<int32_t>::max()));
}

}  // namespace

struct Engine::Impl {
  Impl(std::shared_ptr<model::LlamaModel> model_in,
       std::shared_ptr<const tokenizer::Tokenizer> tokenizer_in, EngineOptions options_in)
      : model(std::move(model_in)),
        tokenizer(std::move(tokenizer_in)),
        options(options_in),
        n_blocks(pool_blocks(*model, options)),
        threads(options.threads),
        block_pool(n_blocks, options.block_tokens),
        storage(model->kv_shape(options.block_tokens, options.kv_type), n_blocks) {
    if (!options.persistent_cache_dir.empty() && options.prefix_caching) {
      spill.emplace(options.persistent_cache_dir, model::model_identity(model->file()), storage.shape(),
                    options.persistent_cache_max_bytes);
    }
    published.kv = block_pool.stats();
  }

  // Persistent cache: saves the sequence's computed blocks before it lets
  // go of them (see kv::spill_blocks), and loads a waiting sequence's
  // missing prefix before it looks the prefix up.
  void spill_before_release(Sequence& seq) {
    if (spill) counters.spilled_blocks += kv::spill_blocks(block_pool, *spill, storage, seq.blocks.block_table());
  }
  void restore_before_start(Sequence& seq) {
    if (spill) counters.restored_blocks += kv::restore_prefix(block_pool, *spill, storage, seq.blocks);
  }

  // --- scheduler thread ---
  void run_loop();
  bool step();
  void take_inputs(std::vector<std::unique_ptr<Sequence>>& arrived, std::vector<uint64_t>& cancels,
                   bool& stop);
  SchedulerSnapshot make_snapshot();
  void finish(Sequence& seq, RequestStatus status, std::string error = {});
  void preempt(Sequence& seq);
  void sample_and_emit(Sequence& seq, std::span<const float> logits);
  void drop_finished();
  void publish_stats();
  void check_invariants();
  Sequence* find_running(uint64_t id);
  Sequence* find_waiting(uint64_t id);

  std::shared_ptr<model::LlamaModel> model;
  std::shared_ptr<const tokenizer::Tokenizer> tokenizer;
  const EngineOptions options;
  const int32_t n_blocks;
  kernels::ThreadPool threads;
  kv::BlockPool block_pool;
  kv::KvBlockStorage storage;
  std::optional<kv::BlockSpillStore> spill;  // persistent prefix cache, when configured

  // Guards the hand-over between callers and the scheduler thread: the
  // inbox, the cancel list, the stop flag, the id counter and the published
  // stats. The scheduler's own state below is touched by its thread only.
  mutable std::mutex mutex;
  std::condition_variable wake;
  std::vector<std::unique_ptr<Sequence>> inbox;
  std::vector<uint64_t> cancel_requests;
  bool stopping = false;
  uint64_t next_id = 1;
  int32_t published_waiting = 0;  // waiting count after the last step (admission control)
  EngineStats published;

  // Scheduler thread only. Sequences reference block_pool, declared above.
  std::vector<std::unique_ptr<Sequence>> running;
  std::vector<std::unique_ptr<Sequence>> waiting;
  uint64_t next_arrival = 0;
  EngineStats counters;  // counts, not gauges; merged into published
  model::ForwardOutput output;
  std::vector<model::SequenceInput> batch;
  std::vector<Sequence*> batch_sequences;
  std::thread thread;
};

Sequence* Engine::Impl::find_running(uint64_t id) {
  for (auto& seq : running) {
    if (seq->id == id && !seq->finished) return seq.get();
  }
  return nullptr;
}

Sequence* Engine::Impl::find_waiting(uint64_t id) {
  for (auto& seq : waiting) {
    if (seq->id == id && !seq->finished) return seq.get();
  }
  return nullptr;
}

void Engine::Impl::finish(Sequence& seq, RequestStatus status, std::string error) {
  if (seq.finished) return;
  seq.finished = true;
  spill_before_release(seq);
  seq.blocks.release();
  const Clock::time_point now = Clock::now();
  RequestUsage& usage = seq.usage;
  usage.status = status;
  usage.error = std::move(error);
  usage.completion_tokens = seq.output.completion_tokens();
  usage.total_ms = ms_between(seq.submitted_at, now);
  if (usage.completion_tokens > 0) usage.decode_ms = ms_between(seq.first_token_at, now);
  generation::GenerationResult& result = seq.output.result();
  result.usage.decode_ms = usage.decode_ms;
  switch (status) {
    case RequestStatus::kCompleted:
      ++counters.completed;
      break;
    case RequestStatus::kCancelled:
      ++counters.cancelled;
      break;
    case RequestStatus::kFailed:
      ++counters.failed;
      break;
  }
  if (seq.callbacks.on_finish) {
    try {
      seq.callbacks.on_finish(result, usage);
    } catch (...) {
      // The request is over either way; a throwing callback must not stop the engine.
    }
  }
}

void Engine::Impl::preempt(Sequence& seq) {
  spill_before_release(seq);
  seq.blocks.release();
  ++seq.usage.preemptions;
  ++counters.preemptions;
}

void Engine::Impl::sample_and_emit(Sequence& seq, std::span<const float> logits) {
  const sampling::SampledToken sampled = seq.output.sample(logits);
  const std::string text = seq.output.accept(sampled);
  const Clock::time_point now = Clock::now();
  generation::GenerationResult& result = seq.output.result();
  if (seq.output.completion_tokens() == 1) {
    seq.first_token_at = now;
    seq.usage.ttft_ms = ms_between(seq.submitted_at, now);
    result.usage.ttft_ms = seq.usage.ttft_ms;
    result.usage.prefill_ms = ms_between(*seq.first_scheduled_at, now);
  }
  if (seq.callbacks.on_token) {
    try {
      seq.callbacks.on_token(text, sampled);
    } catch (...) {
      finish(seq, RequestStatus::kCancelled, "the token callback threw");
      return;
    }
  }
  if (seq.output.finished()) {
    finish(seq, RequestStatus::kCompleted);
    return;
  }
  seq.blocks.append_token(sampled.id);
}

void Engine::Impl::drop_finished() {
  const auto is_finished = [](const std::unique_ptr<Sequence>& seq) { return seq->finished; };
  running.erase(std::remove_if(running.begin(), running.end(), is_finished), running.end());
  waiting.erase(std::remove_if(waiting.begin(), waiting.end(), is_finished), waiting.end());
}

SchedulerSnapshot Engine::Impl::make_snapshot() {
  SchedulerSnapshot snapshot;
  snapshot.block_tokens = options.block_tokens;
  snapshot.total_blocks = n_blocks;
  snapshot.free_blocks = block_pool.free_blocks();
  snapshot.step_token_budget = options.step_token_budget;
  snapshot.max_running = options.max_running;
  snapshot.async_yields_to_prefill = options.async_yields_to_prefill;
  snapshot.async_prefill_chunk = options.async_prefill_chunk;
  snapshot.running.reserve(running.size());
  for (const auto& seq : running) {
    snapshot.running.push_back({.id = seq->id,
                                .priority = seq->priority,
                                .arrival = seq->arrival,
                                .n_tokens = seq->blocks.n_tokens(),
                                .n_computed = seq->blocks.n_computed_tokens(),
                                .n_blocks = static_cast<int32_t>(seq->blocks.block_table().size())});
  }
  // Only the head of the queue can be admitted this step: looking up the
  // prefixes of the rest would be wasted work.
  std::stable_sort(waiting.begin(), waiting.end(), sequence_ranks_before);
  const int32_t room = options.max_running - static_cast<int32_t>(running.size());
  int32_t considered = 0;
  const int32_t block_tokens = options.block_tokens;
  for (const auto& seq : waiting) {
    // With no room, the head still goes in: it may displace a lower class.
    if (considered >= std::max(room, 1)) break;
    SequenceView view{.id = seq->id,
                      .priority = seq->priority,
                      .arrival = seq->arrival,
                      .n_tokens = seq->blocks.n_tokens()};
    // The same lookup start() does: at least one token is left to compute.
    const int32_t max_blocks = (view.n_tokens - 1) / block_tokens;
    const std::span<const kv::BlockHash> chain =
        seq->blocks.full_block_hashes().first(static_cast<size_t>(max_blocks));
    const kv::PrefixMatch match = block_pool.match_prefix(chain);
    view.waiting_for_prefix = match.wait_for.has_value();
    view.cached_tokens = match.ready_blocks * block_tokens;
    for (int32_t block_idx = 0; block_idx < match.ready_blocks; ++block_idx) {
      const std::optional<kv::BlockId> block = block_pool.find(chain[static_cast<size_t>(block_idx)]);
      if (block && block_pool.ref_count(*block) == 0) ++view.cached_unreferenced_blocks;
    }
    if (!view.waiting_for_prefix) ++considered;
    snapshot.waiting.push_back(view);
  }
  return snapshot;
}

// One scheduling step: plan, apply, forward, sample. Returns false when
// there was nothing to run.
bool Engine::Impl::step() {
  const Clock::time_point step_start = Clock::now();
  const StepPlan plan = plan_step(make_snapshot());

  for (const uint64_t id : plan.preempted) {
    if (Sequence* seq = find_running(id)) {
      preempt(*seq);
      auto it = std::find_if(running.begin(), running.end(),
                             [seq](const std::unique_ptr<Sequence>& s) { return s.get() == seq; });
      waiting.push_back(std::move(*it));
      running.erase(it);
    }
  }
  for (const uint64_t id : plan.failed) {
    if (Sequence* seq = find_running(id)) {
      finish(*seq, RequestStatus::kFailed,
             fmt::format("the KV cache ({} blocks of {} tokens) cannot hold this sequence's {} tokens",
                         n_blocks, options.block_tokens, seq->blocks.n_tokens()));
    }
  }

  batch.clear();
  batch_sequences.clear();
  const auto add_to_batch = [&](Sequence& seq, int32_t n_tokens) {
    const int32_t first = seq.blocks.n_computed_tokens();
    if (!seq.first_scheduled_at) seq.first_scheduled_at = step_start;
    batch.push_back({.tokens = seq.blocks.tokens().subspan(static_cast<size_t>(first),
                                                           static_cast<size_t>(n_tokens)),
                     .start_pos = first,
                     .block_table = seq.blocks.block_table(),
                     .all_logits = false});
    batch_sequences.push_back(&seq);
  };
  bool must_move_preempted = false;
  for (const ScheduledChunk& chunk : plan.chunks) {
    Sequence* seq = find_running(chunk.id);
    if (seq == nullptr) continue;
    if (seq->blocks.allocate_slots(chunk.n_tokens) == kv::AllocResult::kNoBlock) {
      // The plan's block count is exact for running sequences, so this
      // should not happen; recompute later rather than fail.
      preempt(*seq);
      must_move_preempted = true;
      continue;
    }
    add_to_batch(*seq, chunk.n_tokens);
  }
  if (must_move_preempted) {
    for (auto it = running.begin(); it != running.end();) {
      if (!(*it)->blocks.started() && !(*it)->finished) {
        waiting.push_back(std::move(*it));
        it = running.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (const ScheduledChunk& admission : plan.admitted) {
    auto it = std::find_if(waiting.begin(), waiting.end(), [&](const std::unique_ptr<Sequence>& s) {
      return s->id == admission.id && !s->finished;
    });
    if (it == waiting.end()) continue;
    Sequence& seq = **it;
    restore_before_start(seq);
    const kv::StartResult start = seq.blocks.start();
    if (start.status == kv::StartStatus::kMustWait) continue;  // retried next step
    const int32_t n_tokens =
        std::min(admission.n_tokens, seq.blocks.n_tokens() - seq.blocks.n_computed_tokens());
    if (seq.blocks.allocate_slots(n_tokens) == kv::AllocResult::kNoBlock) {
      seq.blocks.release();  // not started after all: stays in line
      continue;
    }
    if (!seq.ever_started) {
      seq.ever_started = true;
      seq.usage.queue_ms = ms_between(seq.submitted_at, step_start);
      seq.usage.cached_prompt_tokens = start.cached_tokens;
    }
    add_to_batch(seq, n_tokens);
    running.push_back(std::move(*it));
    waiting.erase(it);
  }

  {
    // Admission control sees the queue as it is now, not after the forward.
    std::lock_guard lock(mutex);
    published_waiting = static_cast<int32_t>(waiting.size());
  }

  if (batch.empty()) {
    drop_finished();
    return !plan.failed.empty() || !plan.preempted.empty();
  }

  const Clock::time_point forward_start = Clock::now();
  try {
    model->forward(batch, storage, output, threads);
  } catch (const std::exception& error) {
    for (Sequence* seq : batch_sequences) {
      finish(*seq, RequestStatus::kFailed, fmt::format("forward step failed: {}", error.what()));
    }
    drop_finished();
    return true;
  }
  const Clock::time_point forward_end = Clock::now();

  int64_t step_tokens = 0;
  for (size_t batch_idx = 0; batch_idx < batch.size(); ++batch_idx) {
    Sequence& seq = *batch_sequences[batch_idx];
    const auto n_tokens = static_cast<int32_t>(batch[batch_idx].tokens.size());
    step_tokens += n_tokens;
    seq.blocks.commit(n_tokens);
    if (seq.finished || seq.blocks.n_computed_tokens() < seq.blocks.n_tokens()) continue;
    sample_and_emit(seq, output.last(static_cast<int32_t>(batch_idx)));
  }
  drop_finished();
  ++counters.steps;
  counters.step_tokens += static_cast<uint64_t>(step_tokens);
  counters.forward_ms += ms_between(forward_start, forward_end);
  counters.schedule_ms += ms_between(step_start, Clock::now()) - ms_between(forward_start, forward_end);
  return true;
}

void Engine::Impl::check_invariants() {
  ++counters.invariant_checks;
  if (!counters.invariant_violation.empty()) return;
  try {
    std::vector<std::span<const kv::BlockId>> tables;
    tables.reserve(running.size() + waiting.size());
    for (const auto* list : {&running, &waiting}) {
      for (const auto& seq : *list) {
        seq->blocks.check_invariants();
        if (list == &waiting && !seq->blocks.block_table().empty()) {
          throw_error(ErrorCode::kInternal, "sched: waiting sequence {} holds blocks", seq->id);
        }
        tables.push_back(seq->blocks.block_table());
      }
    }
    block_pool.check_invariants(tables);
    if (static_cast<int32_t>(running.size()) > options.max_running) {
      throw_error(ErrorCode::kInternal, "sched: {} sequences run, max_running is {}", running.size(),
                  options.max_running);
    }
  } catch (const Error& error) {
    counters.invariant_violation = fmt::format("step {}: {}", counters.steps, error.what());
  }
}

void Engine::Impl::publish_stats() {
  std::lock_guard lock(mutex);
  const EngineStats previous = published;
  published = counters;
  published.submitted = previous.submitted;
  published.rejected = previous.rejected;
  published.kv = block_pool.stats();
  published.running = static_cast<int32_t>(running.size());
  published.waiting = static_cast<int32_t>(waiting.size());
  const auto is_async = [](const std::unique_ptr<Sequence>& seq) { return seq->priority == Priority::kAsync; };
  published.running_async = static_cast<int32_t>(std::count_if(running.begin(), running.end(), is_async));
  published.waiting_async = static_cast<int32_t>(std::count_if(waiting.begin(), waiting.end(), is_async));
  published_waiting = published.waiting;
}

void Engine::Impl::take_inputs(std::vector<std::unique_ptr<Sequence>>& arrived,
                               std::vector<uint64_t>& cancels, bool& stop) {
  std::unique_lock lock(mutex);
  // Sleep only when there is nothing to schedule; otherwise just collect.
  if (running.empty() && waiting.empty()) {
    wake.wait(lock, [&] { return stopping || !inbox.empty() || !cancel_requests.empty(); });
  }
  arrived.swap(inbox);
  cancels.swap(cancel_requests);
  stop = stopping;
  // They wait now; publish_stats() recounts after the step.
  published_waiting += static_cast<int32_t>(arrived.size());
}

void Engine::Impl::run_loop() {
  std::vector<std::unique_ptr<Sequence>> arrived;
  std::vector<uint64_t> cancels;
  while (true) {
    bool stop = false;
    arrived.clear();
    cancels.clear();
    take_inputs(arrived, cancels, stop);
    for (auto& seq : arrived) {
      seq->arrival = next_arrival++;
      waiting.push_back(std::move(seq));
    }
    if (stop) {
      for (auto& seq : running) finish(*seq, RequestStatus::kCancelled, "the engine stopped");
      for (auto& seq : waiting) finish(*seq, RequestStatus::kCancelled, "the engine stopped");
      drop_finished();
      if (spill) counters.spilled_blocks += kv::spill_all(block_pool, *spill, storage);
      publish_stats();
      return;
    }
    for (const uint64_t id : cancels) {
      Sequence* seq = find_running(id);
      if (seq == nullptr) seq = find_waiting(id);
      if (seq != nullptr) finish(*seq, RequestStatus::kCancelled, "cancelled");
    }
    drop_finished();
    if (!running.empty() || !waiting.empty()) {
      if (!step() && running.empty() && !waiting.empty()) {
        // Nothing could run although the pool is idle: the head of the line
        // can never fit. Fail it rather than spin.
        std::stable_sort(waiting.begin(), waiting.end(), sequence_ranks_before);
        finish(*waiting.front(), RequestStatus::kFailed, "the request cannot be scheduled on this KV cache");
        drop_finished();
      }
    }
    if (options.check_invariants) check_invariants();
    publish_stats();
  }
}

Engine::Engine(std::shared_ptr<model::LlamaModel> model,
               std::shared_ptr<const tokenizer::Tokenizer> tokenizer, EngineOptions options) {
  if (!model || !tokenizer) throw_error(ErrorCode::kInvalidArgument, "engine: model and tokenizer are required");
  impl_ = std::make_unique<Impl>(std::move(model), std::move(tokenizer), options);
  impl_->thread = std::thread([impl = impl_.get()] { impl->run_loop(); });
}

Engine::~Engine() {
  {
    std::lock_guard lock(impl_->mutex);
    impl_->stopping = true;
  }
  impl_->wake.notify_one();
  impl_->thread.join();
}

SubmitResult Engine::submit(Request request, Callbacks callbacks) {
  Impl& impl = *impl_;
  const model::ModelConfig& config = impl.model->config();
  generation::PreparedPrompt prompt;
  try {
    prompt = generation::prepare_prompt(request.generation, *impl.tokenizer, config);
    sampling::validate(request.generation.sampling, config.vocab_size);
  } catch (const Error& error) {
    return {SubmitStatus::kInvalid, 0, error.what()};
  }
  // Checked once without the lock for the size, then again under it for the queue.
  const AdmissionQuery size_query{.queued = 0,
                                  .max_queued = 1,
                                  .prompt_tokens = static_cast<int32_t>(prompt.tokens.size()),
                                  .block_tokens = impl.options.block_tokens,
                                  .total_blocks = impl.n_blocks};
  if (AdmissionDecision decision = decide_admission(size_query); decision.status != SubmitStatus::kAccepted) {
    return {decision.status, 0, std::move(decision.error)};
  }
  uint64_t id = 0;
  {
    std::lock_guard lock(impl.mutex);
    AdmissionQuery query = size_query;
    query.queued = impl.published_waiting + static_cast<int32_t>(impl.inbox.size());
    query.max_queued = impl.options.max_queued;
    AdmissionDecision decision = decide_admission(query);
    if (decision.status != SubmitStatus::kAccepted) {
      ++impl.published.rejected;
      return {decision.status, 0, std::move(decision.error)};
    }
    id = impl.next_id++;
  }
  // Tokens hashed and the sampler built outside the lock: the scheduler
  // thread only links the sequence in.
  const std::string salt = impl.options.prefix_caching ? request.cache_salt : private_salt(id);
  auto seq = std::make_unique<Sequence>(id, request, std::move(callbacks), std::move(prompt), impl.block_pool,
                                        salt, config.vocab_size, *impl.tokenizer);
  {
    std::lock_guard lock(impl.mutex);
    if (impl.stopping) return {SubmitStatus::kInvalid, 0, "the engine is stopping"};
    impl.inbox.push_back(std::move(seq));
    ++impl.published.submitted;
  }
  impl.wake.notify_one();
  return {SubmitStatus::kAccepted, id, {}};
}

void Engine::cancel(uint64_t id) {
  {
    std::lock_guard lock(impl_->mutex);
    impl_->cancel_requests.push_back(id);
  }
  impl_->wake.notify_one();
}

EngineStats Engine::stats() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->published;
}

const EngineOptions& Engine::options() const { return impl_->options; }

int32_t Engine::total_blocks() const { return impl_->n_blocks; }

generation::GenerationResult run_to_completion(Engine& engine, Request request, RequestUsage* usage) {
  std::promise<std::pair<generation::GenerationResult, RequestUsage>> done;
  auto future = done.get_future();
  Callbacks callbacks;
  callbacks.on_finish = [&done](const generation::GenerationResult& result, const RequestUsage& request_usage) {
    done.set_value({result, request_usage});
  };
  const SubmitResult submitted = engine.submit(std::move(request), std::move(callbacks));
  if (submitted.status != SubmitStatus::kAccepted) {
    throw_error(ErrorCode::kInvalidArgument, "request rejected: {}", submitted.error);
  }
  auto [result, request_usage] = future.get();
  if (request_usage.status == RequestStatus::kFailed) {
    throw_error(ErrorCode::kInvalidArgument, "request failed: {}", request_usage.error);
  }
  if (usage != nullptr) *usage = std::move(request_usage);
  return std::move(result);
}

}  // namespace tether::sched
