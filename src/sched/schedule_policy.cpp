#include "sched/schedule_policy.h"

#include <algorithm>
#include <limits>
#include <optional>

#include <fmt/format.h>

namespace tether::sched {

bool ranks_before(const SequenceView& a, const SequenceView& b) {
  if (a.priority != b.priority) return a.priority < b.priority;
  if (a.arrival != b.arrival) return a.arrival < b.arrival;
  return a.id < b.id;
}

namespace {

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Plan state of one running sequence.
struct RunningSlot {
  const SequenceView* view = nullptr;
  int32_t planned_tokens = 0;
  int32_t planned_blocks = 0;
  bool scheduled = false;
  bool removed = false;  // preempted or failed
};

class Planner {
 public:
  // async_sits_out: async sequences get no chunk and are not admitted.
  Planner(const SchedulerSnapshot& snapshot, bool async_sits_out)
      : snapshot_(snapshot),
        async_sits_out_(async_sits_out),
        async_prefill_left_(snapshot.async_yields_to_prefill && snapshot.async_prefill_chunk > 0
                                ? snapshot.async_prefill_chunk
                                : std::numeric_limits<int32_t>::max()),
        block_tokens_(std::max(snapshot.block_tokens, 1)),
        free_(snapshot.free_blocks),
        budget_(std::max(snapshot.step_token_budget, 0)) {
    slots_.reserve(snapshot.running.size());
    for (const SequenceView& view : snapshot.running) {
      slots_.push_back({.view = &view});
      interactive_runs_ = interactive_runs_ || view.priority == Priority::kInteractive;
    }
    // Rank order: index 0 is served first, the last one is preempted first.
    std::sort(slots_.begin(), slots_.end(), [](const RunningSlot& a, const RunningSlot& b) {
      return ranks_before(*a.view, *b.view);
    });
  }

  StepPlan run() {
    // Decodes first: one token each, they keep streams flowing.
    for (size_t slot_idx = 0; slot_idx < slots_.size(); ++slot_idx) {
      if (remaining(slot_idx) == 1) schedule_running(slot_idx);
    }
    for (size_t slot_idx = 0; slot_idx < slots_.size(); ++slot_idx) {
      if (remaining(slot_idx) > 1) schedule_running(slot_idx);
    }
    admit_waiting();

    // Chunks in the order they were decided, minus those preempted later.
    for (const size_t slot_idx : order_) {
      const RunningSlot& slot = slots_[slot_idx];
      if (slot.removed || !slot.scheduled) continue;
      plan_.chunks.push_back({slot.view->id, slot.planned_tokens});
      plan_.planned_tokens += slot.planned_tokens;
      plan_.planned_blocks += slot.planned_blocks;
    }
    return std::move(plan_);
  }

  // Whether the plan prefills: a running sequence's chunk of a prompt (more
  // than its next token) or an admission.
  bool planned_prefill() const { return planned_prefill_; }

 private:
  // Async prefill waits while an interactive sequence runs (it would stretch
  // that sequence's decode steps); async decodes go on.
  bool async_prefill_waits(const SequenceView& view) const {
    return snapshot_.async_yields_to_prefill && interactive_runs_ && view.priority == Priority::kAsync;
  }

  // An async prefill chunk within what is left of the step's async prefill
  // budget (async_prefill_chunk tokens a step, all async sequences together).
  int32_t capped(const SequenceView& view, int32_t n_tokens) const {
    if (view.priority != Priority::kAsync) return n_tokens;
    return std::min(n_tokens, async_prefill_left_);
  }
  void take_async_prefill(const SequenceView& view, int32_t n_tokens) {
    if (view.priority == Priority::kAsync) async_prefill_left_ -= n_tokens;
  }

  int32_t remaining(size_t slot_idx) const {
    const SequenceView& view = *slots_[slot_idx].view;
    return view.n_tokens - view.n_computed;
  }

  int32_t blocks_for(const SequenceView& view, int32_t n_tokens) const {
    const int64_t blocks = ceil_div(static_cast<int64_t>(view.n_computed) + n_tokens, block_tokens_);
    return static_cast<int32_t>(std::max<int64_t>(blocks - view.n_blocks, 0));
  }

  // The lowest-ranked live running sequence ranked below `slot_idx`.
  std::optional<size_t> victim_below(size_t slot_idx) const {
    for (size_t idx = slots_.size(); idx-- > slot_idx + 1;) {
      if (!slots_[idx].removed) return idx;
    }
    return std::nullopt;
  }

  // The lowest-ranked live running sequence of a lower class than `priority`.
  std::optional<size_t> lowest_of_class_below(Priority priority) const {
    for (size_t idx = slots_.size(); idx-- > 0;) {
      if (!slots_[idx].removed && slots_[idx].view->priority > priority) return idx;
    }
    return std::nullopt;
  }

  void remove(size_t slot_idx, bool failed) {
    RunningSlot& slot = slots_[slot_idx];
    slot.removed = true;
    free_ += slot.view->n_blocks + slot.planned_blocks;
    budget_ += slot.planned_tokens;
    slot.planned_blocks = slot.planned_tokens = 0;
    (failed ? plan_.failed : plan_.preempted).push_back(slot.view->id);
  }

  bool others_hold_blocks(size_t slot_idx) const {
    for (size_t idx = 0; idx < slots_.size(); ++idx) {
      if (idx == slot_idx || slots_[idx].removed) continue;
      if (slots_[idx].view->n_blocks + slots_[idx].planned_blocks > 0) return true;
    }
    return false;
  }

  void schedule_running(size_t slot_idx) {
    RunningSlot& slot = slots_[slot_idx];
    if (slot.removed || budget_ == 0) return;
    const SequenceView& view = *slot.view;
    if (async_sits_out_ && view.priority == Priority::kAsync) return;
    const bool prefill = remaining(slot_idx) > 1;
    if (prefill && async_prefill_waits(view)) return;
    int32_t n_tokens = 0;
    int32_t needed = 0;
    while (true) {
      // A victim's tokens return to the budget, so the chunk is re-sized.
      n_tokens = std::min(remaining(slot_idx), budget_);
      if (prefill) n_tokens = capped(view, n_tokens);
      needed = blocks_for(view, n_tokens);
      if (needed <= free_) break;
      const std::optional<size_t> victim = victim_below(slot_idx);
      if (!victim) break;
      remove(*victim, /*failed=*/false);
    }
    if (n_tokens <= 0) return;
    if (needed > free_) {
      // Shrink the chunk to the positions its table plus the free blocks hold.
      const int64_t fits = (static_cast<int64_t>(view.n_blocks) + free_) * block_tokens_ - view.n_computed;
      if (fits <= 0) {
        // Higher-ranked sequences hold the rest: wait for them, recomputing
        // later. If nobody else holds anything, no wait could ever help.
        remove(slot_idx, /*failed=*/!others_hold_blocks(slot_idx));
        return;
      }
      n_tokens = static_cast<int32_t>(std::min<int64_t>(fits, n_tokens));
      needed = blocks_for(view, n_tokens);
    }
    free_ -= needed;
    budget_ -= n_tokens;
    slot.planned_tokens = n_tokens;
    slot.planned_blocks = needed;
    slot.scheduled = true;
    order_.push_back(slot_idx);
    planned_prefill_ = planned_prefill_ || prefill;
    if (prefill) take_async_prefill(view, n_tokens);
  }

  void admit_waiting() {
    std::vector<const SequenceView*> waiting;
    waiting.reserve(snapshot_.waiting.size());
    for (const SequenceView& view : snapshot_.waiting) waiting.push_back(&view);
    std::sort(waiting.begin(), waiting.end(),
              [](const SequenceView* a, const SequenceView* b) { return ranks_before(*a, *b); });
    int32_t running = 0;
    for (const RunningSlot& slot : slots_) running += slot.removed ? 0 : 1;
    for (const SequenceView* view : waiting) {
      if (budget_ == 0) break;
      // Ranked after every interactive sequence: none of the rest goes in.
      if (async_sits_out_ && view->priority == Priority::kAsync) break;
      if (async_prefill_waits(*view)) break;
      if (view->waiting_for_prefix) continue;
      const int32_t cached = std::clamp(view->cached_tokens, 0, std::max(view->n_tokens - 1, 0));
      const int32_t cached_blocks = cached / block_tokens_;
      const int32_t remaining_tokens = view->n_tokens - cached_blocks * block_tokens_;
      if (remaining_tokens <= 0) continue;
      const int32_t unreferenced = std::max(view->cached_unreferenced_blocks, 0);
      // Keep a block per running sequence for its next step, unless nothing
      // runs (then the whole pool is this sequence's to use).
      const auto first_chunk = [&](int32_t free_blocks, int32_t n_running) {
        const int64_t available = static_cast<int64_t>(free_blocks) - n_running - unreferenced;
        return capped(*view, static_cast<int32_t>(
                                 std::min<int64_t>({available * block_tokens_, remaining_tokens, budget_})));
      };
      int32_t n_tokens = first_chunk(free_, running);
      if (running >= snapshot_.max_running || n_tokens <= 0) {
        // A higher class may take the place of lower-class running
        // sequences, but only when releasing all of them would be enough.
        int32_t reclaimable_blocks = 0;
        int32_t lower_running = 0;
        for (const RunningSlot& slot : slots_) {
          if (slot.removed || slot.view->priority <= view->priority) continue;
          reclaimable_blocks += slot.view->n_blocks + slot.planned_blocks;
          ++lower_running;
        }
        const bool could_fit = running - lower_running < snapshot_.max_running &&
                               first_chunk(free_ + reclaimable_blocks, running - lower_running) > 0;
        while (could_fit && (running >= snapshot_.max_running || n_tokens <= 0)) {
          const std::optional<size_t> victim = lowest_of_class_below(view->priority);
          if (!victim) break;
          remove(*victim, /*failed=*/false);
          --running;
          n_tokens = first_chunk(free_, running);
        }
      }
      // FIFO within the ranking: a sequence that does not fit now holds
      // back those behind it, so large requests are not starved by small ones.
      if (running >= snapshot_.max_running || n_tokens <= 0) break;
      const int32_t needed = static_cast<int32_t>(ceil_div(n_tokens, block_tokens_)) + unreferenced;
      free_ -= needed;
      budget_ -= n_tokens;
      ++running;
      plan_.admitted.push_back({view->id, n_tokens});
      take_async_prefill(*view, n_tokens);
      planned_prefill_ = true;
      plan_.planned_tokens += n_tokens;
      plan_.planned_blocks += needed;
    }
  }

  const SchedulerSnapshot& snapshot_;
  bool async_sits_out_;
  bool interactive_runs_ = false;
  int32_t async_prefill_left_;
  bool planned_prefill_ = false;
  int32_t block_tokens_;
  int32_t free_;
  int32_t budget_;
  std::vector<RunningSlot> slots_;
  std::vector<size_t> order_;  // slots in the order their chunks were decided
  StepPlan plan_;
};

// Whether an async sequence runs or waits, and an interactive one could
// prefill this step (a running one has more than its next token to
// compute, or one waits).
bool async_may_yield(const SchedulerSnapshot& snapshot) {
  bool async = false;
  bool interactive_prefill = false;
  for (const SequenceView& view : snapshot.running) {
    if (view.priority == Priority::kAsync) {
      async = true;
    } else if (view.n_tokens - view.n_computed > 1) {
      interactive_prefill = true;
    }
  }
  for (const SequenceView& view : snapshot.waiting) {
    if (view.priority == Priority::kAsync) {
      async = true;
    } else if (!view.waiting_for_prefix) {
      interactive_prefill = true;
    }
  }
  return async && interactive_prefill;
}

}  // namespace

StepPlan plan_step(const SchedulerSnapshot& snapshot) {
  if (snapshot.async_yields_to_prefill && async_may_yield(snapshot)) {
    Planner yielding(snapshot, /*async_sits_out=*/true);
    StepPlan plan = yielding.run();
    if (yielding.planned_prefill()) return plan;
  }
  return Planner(snapshot, /*async_sits_out=*/false).run();
}

AdmissionDecision decide_admission(const AdmissionQuery& query) {
  if (query.prompt_tokens <= 0) {
    return {SubmitStatus::kInvalid, "the prompt has no tokens"};
  }
  const int64_t prompt_blocks = ceil_div(query.prompt_tokens, std::max(query.block_tokens, 1));
  if (prompt_blocks > query.total_blocks) {
    return {SubmitStatus::kInvalid,
            fmt::format("the prompt has {} tokens ({} KV blocks); the KV pool holds {} blocks of {} tokens",
                        query.prompt_tokens, prompt_blocks, query.total_blocks, query.block_tokens)};
  }
  if (query.queued >= query.max_queued) {
    return {SubmitStatus::kFull,
            fmt::format("the engine is full: {} requests are waiting (max {})", query.queued,
                        query.max_queued)};
  }
  return {};
}

}  // namespace tether::sched
