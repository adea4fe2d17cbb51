#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tether::sched {

// Priority classes: every interactive sequence ranks before every async one;
// within a class, earlier submissions rank first (FIFO).
enum class Priority { kInteractive, kAsync };

// One sequence as the scheduler sees it at the start of a step.
struct SequenceView {
  uint64_t id = 0;
  Priority priority = Priority::kInteractive;
  uint64_t arrival = 0;      // submission order; a preempted sequence keeps its own
  int32_t n_tokens = 0;      // known tokens: prompt, then the generated ones
  int32_t n_computed = 0;    // running: leading positions whose KV is stored
  int32_t n_blocks = 0;      // running: blocks in its table
  // Waiting only: leading tokens a start() would take from the cache now (a
  // multiple of the block size, below n_tokens), and whether start() would
  // be told to wait for a block another sequence is computing.
  int32_t cached_tokens = 0;
  // Of those cached blocks, how many nobody references now: taking them
  // lowers the pool's free blocks (blocks in use by others do not).
  int32_t cached_unreferenced_blocks = 0;
  bool waiting_for_prefix = false;
};

// Everything plan_step() decides from. Running and waiting sequences may be
// in any order; the policy ranks them itself.
struct SchedulerSnapshot {
  int32_t block_tokens = 16;
  int32_t total_blocks = 0;
  int32_t free_blocks = 0;         // allocatable now (plain free plus cached)
  int32_t step_token_budget = 256; // tokens one forward step computes
  int32_t max_running = 32;        // sequences started and not finished
  // Async sequences sit out the steps in which interactive ones prefill
  // (see plan_step()).
  bool async_yields_to_prefill = true;
  // With async_yields_to_prefill: async sequences prefill at most this many
  // tokens a step, all together (0 = no cap), so an interactive request
  // arriving while such a step computes waits for a short step only.
  int32_t async_prefill_chunk = 0;
  std::vector<SequenceView> running;
  std::vector<SequenceView> waiting;
};

// The next n_tokens positions of sequence `id` go into this step's forward.
struct ScheduledChunk {
  uint64_t id = 0;
  int32_t n_tokens = 0;
};

// The loop applies a plan in this order: release `preempted` (back to
// waiting) and `failed`, allocate and run `chunks` for running sequences,
// then start `admitted` waiting sequences (each computes up to n_tokens
// positions after its cached prefix). Running sequences not mentioned just
// sit out this step (the token budget ran out).
struct StepPlan {
  std::vector<ScheduledChunk> chunks;    // running: decode (1) or prefill chunk
  std::vector<ScheduledChunk> admitted;  // waiting: start now
  std::vector<uint64_t> preempted;       // running: free blocks, recompute later
  // Running sequences that cannot get a block even with every other
  // sequence's blocks released: the pool is too small for them.
  std::vector<uint64_t> failed;
  int32_t planned_tokens = 0;  // sum of chunk and admission tokens
  int32_t planned_blocks = 0;  // upper bound of blocks the plan allocates
};

// Decides one step; a pure function of the snapshot.
//  - Running sequences decoding (one token left to compute) come first, then
//    prefill chunks of running sequences, then admissions; each pass in rank
//    order (priority class, then arrival). Each takes from the step's token
//    budget; a prefill chunk takes what is left of it.
//  - When a running sequence's chunk needs more blocks than are free, the
//    lowest-ranked other running sequences (lowest priority, newest first)
//    are preempted, as long as they rank below it. If it still does not fit,
//    its chunk shrinks to the blocks there are; with no room at all it is
//    preempted itself, or failed when no other sequence holds any block
//    (then nothing could ever make room).
//  - Waiting sequences are admitted in rank order while fewer than
//    max_running run, budget remains and the free blocks cover their first
//    chunk; those waiting for a prefix block are skipped. Besides the first
//    chunk, an admission must leave a block of headroom per running
//    sequence, so newcomers are not preempted again at once (waived when
//    nothing runs). An admission preempts only running sequences of a lower
//    class (an interactive request displaces async ones, newest first), and
//    only when displacing all of them would make it fit.
//  - With async_yields_to_prefill, a step in which an interactive sequence
//    prefills (a running one's chunk or an admission) runs no async
//    sequence at all: they sit out (keeping their blocks; they may still be
//    preempted for room), so the step is no longer than the interactive
//    work makes it and the interactive TTFT does not grow with an async
//    backlog. Should no interactive prefill fit that way, the step is
//    planned as without the option (async work never stalls for nothing).
//    With the option, async prefill (chunks and admissions) also waits
//    while any interactive sequence runs (it would stretch that sequence's
//    decode steps; async decodes go on), and takes at most
//    async_prefill_chunk tokens a step, all async sequences together.
StepPlan plan_step(const SchedulerSnapshot& snapshot);

// What submit() answers, decided from the queue and the request's size.
enum class SubmitStatus { kAccepted, kFull, kInvalid };

struct AdmissionQuery {
  int32_t queued = 0;      // requests waiting now (not started)
  int32_t max_queued = 0;  // more than this waiting: kFull
  int32_t prompt_tokens = 0;
  int32_t block_tokens = 16;
  int32_t total_blocks = 0;
};

struct AdmissionDecision {
  SubmitStatus status = SubmitStatus::kAccepted;
  std::string error;  // why, unless accepted
};

// kInvalid when the prompt alone needs more blocks than the whole pool (it
// could never run), kFull when max_queued requests already wait.
AdmissionDecision decide_admission(const AdmissionQuery& query);

// Ranking used throughout: true when `a` should be served before `b`.
bool ranks_before(const SequenceView& a, const SequenceView& b);

}  // namespace tether::sched
