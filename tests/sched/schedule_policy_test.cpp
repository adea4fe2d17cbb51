#include "sched/schedule_policy.h"

#include <algorithm>

#include <gtest/gtest.h>

namespace tether::sched {
namespace {

constexpr int32_t kBlockTokens = 16;

// A running sequence with `n_computed` of `n_tokens` positions stored, its
// table exactly covering the computed positions.
SequenceView running(uint64_t id, Priority priority, uint64_t arrival, int32_t n_tokens,
                     int32_t n_computed) {
  return {.id = id,
          .priority = priority,
          .arrival = arrival,
          .n_tokens = n_tokens,
          .n_computed = n_computed,
          .n_blocks = (n_computed + kBlockTokens - 1) / kBlockTokens};
}

// A decoding sequence whose next position starts a new block.
SequenceView decoding_at_block_edge(uint64_t id, Priority priority, uint64_t arrival, int32_t blocks) {
  return running(id, priority, arrival, blocks * kBlockTokens + 1, blocks * kBlockTokens);
}

SequenceView waiting(uint64_t id, Priority priority, uint64_t arrival, int32_t n_tokens) {
  return {.id = id, .priority = priority, .arrival = arrival, .n_tokens = n_tokens};
}

SchedulerSnapshot snapshot(int32_t total_blocks, int32_t free_blocks, int32_t budget = 256,
                           int32_t max_running = 32) {
  SchedulerSnapshot s;
  s.block_tokens = kBlockTokens;
  s.total_blocks = total_blocks;
  s.free_blocks = free_blocks;
  s.step_token_budget = budget;
  s.max_running = max_running;
  return s;
}

int32_t tokens_of(const std::vector<ScheduledChunk>& chunks, uint64_t id) {
  for (const ScheduledChunk& chunk : chunks) {
    if (chunk.id == id) return chunk.n_tokens;
  }
  return 0;
}

bool contains(const std::vector<uint64_t>& ids, uint64_t id) {
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

TEST(SchedulePolicy, InteractiveDecodesBeforeAsyncWhateverTheArrival) {
  SchedulerSnapshot s = snapshot(100, 50, /*budget=*/1);
  s.running = {running(1, Priority::kAsync, 0, 20, 19), running(2, Priority::kInteractive, 5, 20, 19)};
  const StepPlan plan = plan_step(s);
  ASSERT_EQ(plan.chunks.size(), 1u);
  EXPECT_EQ(plan.chunks[0].id, 2u);
  EXPECT_EQ(plan.planned_tokens, 1);
}

TEST(SchedulePolicy, FifoWithinAClassWhenAdmitting) {
  SchedulerSnapshot s = snapshot(100, 100, 256, /*max_running=*/2);
  s.waiting = {waiting(7, Priority::kAsync, 1, 10), waiting(8, Priority::kInteractive, 4, 10),
               waiting(9, Priority::kInteractive, 3, 10)};
  const StepPlan plan = plan_step(s);
  ASSERT_EQ(plan.admitted.size(), 2u);
  EXPECT_EQ(plan.admitted[0].id, 9u);  // interactive, earliest
  EXPECT_EQ(plan.admitted[1].id, 8u);
  EXPECT_EQ(plan.admitted[0].n_tokens, 10);
}

TEST(SchedulePolicy, TokenBudgetCoversDecodesFirstThenPrefillChunks) {
  SchedulerSnapshot s = snapshot(100, 100, /*budget=*/20);
  // The prefill is the oldest, yet decodes go first; it takes what is left.
  s.running = {running(1, Priority::kInteractive, 0, 100, 0), running(2, Priority::kInteractive, 1, 30, 29),
               running(3, Priority::kInteractive, 2, 30, 29), running(4, Priority::kAsync, 3, 30, 29)};
  s.waiting = {waiting(5, Priority::kInteractive, 4, 10)};
  s.async_yields_to_prefill = false;  // the async decode rides along (see the sit-out tests)
  const StepPlan plan = plan_step(s);
  EXPECT_EQ(tokens_of(plan.chunks, 2), 1);
  EXPECT_EQ(tokens_of(plan.chunks, 3), 1);
  EXPECT_EQ(tokens_of(plan.chunks, 4), 1);
  EXPECT_EQ(tokens_of(plan.chunks, 1), 17);
  EXPECT_TRUE(plan.admitted.empty());  // the budget is spent
  EXPECT_EQ(plan.planned_tokens, 20);
  EXPECT_TRUE(plan.preempted.empty());
}

TEST(SchedulePolicy, LeftoverBudgetGoesToAdmissionsInChunks) {
  SchedulerSnapshot s = snapshot(100, 100, /*budget=*/40);
  s.running = {running(1, Priority::kInteractive, 0, 30, 29)};
  s.waiting = {waiting(2, Priority::kInteractive, 1, 100), waiting(3, Priority::kInteractive, 2, 5)};
  const StepPlan plan = plan_step(s);
  ASSERT_EQ(plan.admitted.size(), 1u);
  EXPECT_EQ(plan.admitted[0].id, 2u);
  EXPECT_EQ(plan.admitted[0].n_tokens, 39);
  EXPECT_EQ(plan.planned_tokens, 40);
}

TEST(SchedulePolicy, PreemptsTheLowestPriorityFirst) {
  // Nothing is free; sequence 1 needs a new block for its next token.
  SchedulerSnapshot s = snapshot(10, 0);
  s.running = {decoding_at_block_edge(1, Priority::kInteractive, 5, 2),
               decoding_at_block_edge(2, Priority::kAsync, 0, 3),  // oldest, but async
               running(3, Priority::kInteractive, 9, 40, 39)};     // needs no block
  const StepPlan plan = plan_step(s);
  ASSERT_EQ(plan.preempted.size(), 1u);
  EXPECT_EQ(plan.preempted[0], 2u);
  EXPECT_EQ(tokens_of(plan.chunks, 1), 1);
  EXPECT_EQ(tokens_of(plan.chunks, 3), 1);
  EXPECT_TRUE(plan.failed.empty());
}

TEST(SchedulePolicy, PreemptsTheNewestWithinAClass) {
  SchedulerSnapshot s = snapshot(10, 0);
  s.running = {decoding_at_block_edge(1, Priority::kInteractive, 1, 2),
               decoding_at_block_edge(2, Priority::kInteractive, 3, 2),
               decoding_at_block_edge(3, Priority::kInteractive, 2, 2)};
  const StepPlan plan = plan_step(s);
  // 1 takes newest 2's blocks; then 3 (next in rank) fits in what remains.
  EXPECT_EQ(plan.preempted, std::vector<uint64_t>{2});
  EXPECT_EQ(tokens_of(plan.chunks, 1), 1);
  EXPECT_EQ(tokens_of(plan.chunks, 3), 1);
  EXPECT_EQ(plan.planned_blocks, 2);
}

TEST(SchedulePolicy, TheLowestRankedPreemptsItselfWhenOthersHoldTheBlocks) {
  SchedulerSnapshot s = snapshot(10, 0);
  s.running = {running(1, Priority::kInteractive, 0, 30, 29),  // fits in its last block
               decoding_at_block_edge(2, Priority::kAsync, 1, 3)};
  const StepPlan plan = plan_step(s);
  EXPECT_EQ(plan.preempted, std::vector<uint64_t>{2});
  EXPECT_TRUE(plan.failed.empty());
  EXPECT_EQ(tokens_of(plan.chunks, 1), 1);
}

TEST(SchedulePolicy, FailsTheOnlySequenceWhenThePoolCannotHoldIt) {
  SchedulerSnapshot s = snapshot(2, 0);
  s.running = {decoding_at_block_edge(1, Priority::kInteractive, 0, 2)};
  const StepPlan plan = plan_step(s);
  EXPECT_EQ(plan.failed, std::vector<uint64_t>{1});
  EXPECT_TRUE(plan.preempted.empty());
  EXPECT_TRUE(plan.chunks.empty());
}

TEST(SchedulePolicy, ShrinksAPrefillChunkToTheFreeBlocksRatherThanPreemptHigherRanks) {
  SchedulerSnapshot s = snapshot(20, 2);
  s.running = {running(1, Priority::kInteractive, 0, 30, 29),   // higher rank, keeps its blocks
               running(2, Priority::kInteractive, 1, 200, 0)};  // a long prefill
  const StepPlan plan = plan_step(s);
  EXPECT_TRUE(plan.preempted.empty());
  EXPECT_EQ(tokens_of(plan.chunks, 1), 1);
  EXPECT_EQ(tokens_of(plan.chunks, 2), 2 * kBlockTokens);
  EXPECT_EQ(plan.planned_blocks, 2);
}

TEST(SchedulePolicy, AHigherRankedPrefillPreemptsLowerRankedDecodes) {
  SchedulerSnapshot s = snapshot(20, 0, /*budget=*/64);
  s.running = {running(1, Priority::kInteractive, 0, 100, 32),  // 2 blocks held, wants 64 more tokens
               decoding_at_block_edge(2, Priority::kAsync, 1, 3),
               running(3, Priority::kAsync, 2, 30, 29)};
  const StepPlan plan = plan_step(s);
  // Decodes were planned first; the prefill then takes blocks from the
  // lowest-ranked sequences until its chunk fits.
  EXPECT_EQ(plan.preempted, (std::vector<uint64_t>{3, 2}));
  // Their tokens return to the budget: the chunk takes all of it.
  EXPECT_EQ(tokens_of(plan.chunks, 1), 64);
  EXPECT_EQ(tokens_of(plan.chunks, 2), 0);
  EXPECT_EQ(plan.planned_tokens, 64);
}

TEST(SchedulePolicy, AdmissionsNeverPreemptTheirOwnClassAndKeepHeadroom) {
  SchedulerSnapshot s = snapshot(20, 3);
  s.running = {running(1, Priority::kInteractive, 0, 30, 29), running(2, Priority::kInteractive, 1, 30, 29)};
  // It must not take the running ones' blocks: with two running, one free
  // block is left for it (one chunk of 16 tokens).
  s.waiting = {waiting(3, Priority::kInteractive, 2, 100)};
  StepPlan plan = plan_step(s);
  EXPECT_TRUE(plan.preempted.empty());
  ASSERT_EQ(plan.admitted.size(), 1u);
  EXPECT_EQ(plan.admitted[0].n_tokens, kBlockTokens);

  s.free_blocks = 2;
  plan = plan_step(s);
  EXPECT_TRUE(plan.admitted.empty());
  EXPECT_EQ(plan.chunks.size(), 2u);
}

TEST(SchedulePolicy, AnInteractiveAdmissionDisplacesAsyncSequencesNewestFirst) {
  SchedulerSnapshot s = snapshot(20, 10, 256, /*max_running=*/3);
  s.running = {running(1, Priority::kAsync, 0, 30, 29), running(2, Priority::kAsync, 2, 30, 29),
               running(3, Priority::kInteractive, 1, 30, 29)};
  s.waiting = {waiting(4, Priority::kInteractive, 3, 20), waiting(5, Priority::kAsync, 4, 20)};
  s.async_yields_to_prefill = false;  // async 1 decodes alongside (see the sit-out tests)
  const StepPlan plan = plan_step(s);
  EXPECT_EQ(plan.preempted, std::vector<uint64_t>{2});
  ASSERT_EQ(plan.admitted.size(), 1u);
  EXPECT_EQ(plan.admitted[0].id, 4u);
  EXPECT_EQ(tokens_of(plan.chunks, 1), 1);
  EXPECT_EQ(tokens_of(plan.chunks, 2), 0);
  EXPECT_EQ(tokens_of(plan.chunks, 3), 1);
}

TEST(SchedulePolicy, AsyncAdmissionsDisplaceNobody) {
  SchedulerSnapshot s = snapshot(20, 10, 256, /*max_running=*/2);
  s.running = {running(1, Priority::kAsync, 0, 30, 29), running(2, Priority::kAsync, 1, 30, 29)};
  s.waiting = {waiting(3, Priority::kAsync, 2, 20)};
  const StepPlan plan = plan_step(s);
  EXPECT_TRUE(plan.preempted.empty());
  EXPECT_TRUE(plan.admitted.empty());
}

TEST(SchedulePolicy, NoDisplacementWhenItWouldNotMakeRoomAnyway) {
  // The async sequence holds 2 blocks; the interactive newcomer's first
  // chunk needs at least one block beyond the headroom of the interactive
  // runner, and its cached prefix 6 idle blocks: 0 free + 2 is not enough.
  SchedulerSnapshot s = snapshot(20, 0);
  s.running = {running(1, Priority::kInteractive, 0, 30, 29), running(2, Priority::kAsync, 1, 30, 29)};
  SequenceView newcomer = waiting(3, Priority::kInteractive, 2, 120);
  newcomer.cached_tokens = 96;
  newcomer.cached_unreferenced_blocks = 6;
  s.waiting = {newcomer};
  StepPlan plan = plan_step(s);
  EXPECT_TRUE(plan.preempted.empty());
  EXPECT_TRUE(plan.admitted.empty());
  // Without the idle cached blocks to take, displacing the async one works.
  s.waiting[0].cached_unreferenced_blocks = 0;
  plan = plan_step(s);
  EXPECT_EQ(plan.preempted, std::vector<uint64_t>{2});
  ASSERT_EQ(plan.admitted.size(), 1u);
  EXPECT_EQ(plan.admitted[0].n_tokens, kBlockTokens);
}

TEST(SchedulePolicy, AdmissionWithNothingRunningMayUseTheWholePool) {
  SchedulerSnapshot s = snapshot(2, 2);
  s.waiting = {waiting(1, Priority::kInteractive, 0, 2 * kBlockTokens)};
  const StepPlan plan = plan_step(s);
  ASSERT_EQ(plan.admitted.size(), 1u);
  EXPECT_EQ(plan.admitted[0].n_tokens, 2 * kBlockTokens);
}

TEST(SchedulePolicy, CachedPrefixesCountOnlyWhenNobodyHoldsThem) {
  // 64 cached tokens (4 blocks): in use by others they cost nothing, idle in
  // the cache they come out of the free blocks.
  SchedulerSnapshot s = snapshot(40, 6);
  s.running = {running(1, Priority::kInteractive, 0, 30, 29)};
  SequenceView shared = waiting(2, Priority::kInteractive, 1, 80);
  shared.cached_tokens = 64;
  s.waiting = {shared};
  StepPlan plan = plan_step(s);
  ASSERT_EQ(plan.admitted.size(), 1u);
  EXPECT_EQ(plan.admitted[0].n_tokens, 16);
  EXPECT_EQ(plan.planned_blocks, 1);

  s.waiting[0].cached_unreferenced_blocks = 4;
  plan = plan_step(s);
  ASSERT_EQ(plan.admitted.size(), 1u);
  EXPECT_EQ(plan.planned_blocks, 5);

  s.free_blocks = 5;  // 4 for the cache hits, 1 headroom: nothing left to compute in
  plan = plan_step(s);
  EXPECT_TRUE(plan.admitted.empty());
}

TEST(SchedulePolicy, SkipsSequencesWaitingForAPrefixAndRespectsMaxRunning) {
  SchedulerSnapshot s = snapshot(100, 100, 256, /*max_running=*/2);
  s.running = {running(1, Priority::kInteractive, 0, 30, 29)};
  SequenceView blocked = waiting(2, Priority::kInteractive, 1, 40);
  blocked.waiting_for_prefix = true;
  s.waiting = {blocked, waiting(3, Priority::kInteractive, 2, 10), waiting(4, Priority::kInteractive, 3, 10)};
  const StepPlan plan = plan_step(s);
  ASSERT_EQ(plan.admitted.size(), 1u);
  EXPECT_EQ(plan.admitted[0].id, 3u);
}

TEST(SchedulePolicy, ALargeHeadOfLineRequestIsNotOvertakenBySmallOnes) {
  SchedulerSnapshot s = snapshot(100, 3);
  s.running = {running(1, Priority::kInteractive, 0, 30, 29), running(5, Priority::kInteractive, 1, 30, 29)};
  s.waiting = {waiting(2, Priority::kInteractive, 2, 100), waiting(3, Priority::kInteractive, 3, 4)};
  const StepPlan plan = plan_step(s);
  // Two running sequences keep two blocks of headroom; the third block
  // gives the head of the line a 16-token first chunk; 3 waits its turn.
  ASSERT_EQ(plan.admitted.size(), 1u);
  EXPECT_EQ(plan.admitted[0].id, 2u);
}

TEST(SchedulePolicy, EveryRunningSequenceIsDecidedAndBlocksAreNeverOverdrawn) {
  // A crowded pool: whatever the plan, the blocks it allocates fit in what
  // is free plus what it releases, and every running sequence is either
  // scheduled, preempted, failed or left out for lack of budget.
  for (int32_t free_blocks = 0; free_blocks < 6; ++free_blocks) {
    SchedulerSnapshot s = snapshot(30, free_blocks, 24);
    int32_t held = 0;
    for (uint64_t id = 1; id <= 8; ++id) {
      SequenceView view = id % 2 == 0 ? decoding_at_block_edge(id, Priority::kAsync, id, 2)
                                      : running(id, Priority::kInteractive, id, 60, 17);
      held += view.n_blocks;
      s.running.push_back(view);
    }
    s.waiting = {waiting(20, Priority::kInteractive, 20, 50)};
    const StepPlan plan = plan_step(s);
    int32_t released = 0;
    for (uint64_t id : plan.preempted) released += s.running[id - 1].n_blocks;
    for (uint64_t id : plan.failed) released += s.running[id - 1].n_blocks;
    EXPECT_LE(plan.planned_blocks, free_blocks + released) << "free " << free_blocks;
    EXPECT_LE(plan.planned_tokens, 24);
    EXPECT_TRUE(plan.failed.empty());
    for (const ScheduledChunk& chunk : plan.chunks) {
      EXPECT_FALSE(contains(plan.preempted, chunk.id));
      EXPECT_GT(chunk.n_tokens, 0);
    }
    EXPECT_LE(held, 30);
  }
}

TEST(SchedulePolicy, AsyncSequencesSitOutWhileAnInteractiveOnePrefills) {
  SchedulerSnapshot s = snapshot(100, 60);
  s.running = {running(1, Priority::kAsync, 0, 40, 39), running(2, Priority::kAsync, 1, 300, 64),
               running(3, Priority::kInteractive, 5, 300, 0)};
  s.waiting = {waiting(4, Priority::kAsync, 6, 50)};
  const StepPlan plan = plan_step(s);
  ASSERT_EQ(plan.chunks.size(), 1u);
  EXPECT_EQ(plan.chunks[0].id, 3u);
  EXPECT_EQ(plan.chunks[0].n_tokens, 256);  // the whole budget, no async decode in it
  EXPECT_TRUE(plan.admitted.empty());
  EXPECT_TRUE(plan.preempted.empty());  // sitting out keeps their blocks

  // Without the option the async decode and the rest of the budget ride along.
  s.async_yields_to_prefill = false;
  const StepPlan mixed = plan_step(s);
  EXPECT_EQ(tokens_of(mixed.chunks, 1), 1);
  EXPECT_EQ(tokens_of(mixed.chunks, 3), 255);
}

TEST(SchedulePolicy, AsyncSequencesSitOutWhileAnInteractiveOneIsAdmitted) {
  SchedulerSnapshot s = snapshot(100, 60);
  s.running = {running(1, Priority::kAsync, 0, 40, 39), running(2, Priority::kInteractive, 1, 40, 39)};
  s.waiting = {waiting(3, Priority::kInteractive, 5, 100), waiting(4, Priority::kAsync, 6, 50)};
  const StepPlan plan = plan_step(s);
  EXPECT_EQ(tokens_of(plan.chunks, 1), 0);
  EXPECT_EQ(tokens_of(plan.chunks, 2), 1);  // interactive decodes go on
  ASSERT_EQ(plan.admitted.size(), 1u);
  EXPECT_EQ(plan.admitted[0].id, 3u);
  EXPECT_EQ(plan.admitted[0].n_tokens, 100);
}

TEST(SchedulePolicy, AsyncPrefillWaitsWhileAnInteractiveSequenceRuns) {
  // Its chunks would stretch the interactive decode steps; async decodes go on.
  SchedulerSnapshot s = snapshot(100, 60);
  s.running = {running(1, Priority::kInteractive, 0, 40, 39), running(2, Priority::kAsync, 1, 300, 0),
               running(3, Priority::kAsync, 2, 20, 19)};
  s.waiting = {waiting(4, Priority::kAsync, 3, 200)};
  StepPlan plan = plan_step(s);
  EXPECT_EQ(tokens_of(plan.chunks, 1), 1);
  EXPECT_EQ(tokens_of(plan.chunks, 2), 0);
  EXPECT_EQ(tokens_of(plan.chunks, 3), 1);
  EXPECT_TRUE(plan.admitted.empty());
  // Without yielding, async prefills beside interactive decodes.
  s.async_yields_to_prefill = false;
  s.waiting.clear();
  plan = plan_step(s);
  EXPECT_EQ(tokens_of(plan.chunks, 2), 254);
}

TEST(SchedulePolicy, AsyncPrefillSharesOneCapPerStep) {
  SchedulerSnapshot s = snapshot(100, 60);
  s.async_prefill_chunk = 48;
  s.running = {running(2, Priority::kAsync, 1, 300, 0), running(3, Priority::kAsync, 2, 20, 19),
               running(5, Priority::kAsync, 3, 100, 80)};
  s.waiting = {waiting(4, Priority::kAsync, 4, 200)};
  StepPlan plan = plan_step(s);
  EXPECT_EQ(tokens_of(plan.chunks, 3), 1);   // a decode passes
  EXPECT_EQ(tokens_of(plan.chunks, 2), 48);  // the step's whole async prefill
  EXPECT_EQ(tokens_of(plan.chunks, 5), 0);
  EXPECT_TRUE(plan.admitted.empty());
  // Interactive prefill is never capped.
  s.running = {running(6, Priority::kInteractive, 0, 300, 0)};
  s.waiting.clear();
  plan = plan_step(s);
  EXPECT_EQ(tokens_of(plan.chunks, 6), 256);
  // Without yielding there is no cap.
  s.async_yields_to_prefill = false;
  s.running = {running(2, Priority::kAsync, 1, 300, 0)};
  plan = plan_step(s);
  EXPECT_EQ(tokens_of(plan.chunks, 2), 256);
}

TEST(SchedulePolicy, AsyncRunsWhenNoInteractivePrefillCanBePlanned) {
  // The waiting interactive request cannot start even with the async
  // sequence displaced (its one block must stay as the running interactive
  // sequence's headroom), so the async decode is not held back for it.
  SchedulerSnapshot s = snapshot(9, 0);
  s.running = {running(1, Priority::kAsync, 0, 10, 9), running(2, Priority::kInteractive, 1, 120, 119)};
  s.waiting = {waiting(3, Priority::kInteractive, 5, 200)};
  const StepPlan plan = plan_step(s);
  EXPECT_EQ(tokens_of(plan.chunks, 1), 1);
  EXPECT_EQ(tokens_of(plan.chunks, 2), 1);
  EXPECT_TRUE(plan.admitted.empty());
  EXPECT_TRUE(plan.preempted.empty());
}

TEST(SchedulePolicy, AdmissionAnswersFullAndInvalid) {
  AdmissionQuery query{.queued = 3, .max_queued = 4, .prompt_tokens = 20, .block_tokens = 16, .total_blocks = 2};
  EXPECT_EQ(decide_admission(query).status, SubmitStatus::kAccepted);
  query.queued = 4;
  AdmissionDecision decision = decide_admission(query);
  EXPECT_EQ(decision.status, SubmitStatus::kFull);
  EXPECT_NE(decision.error.find("full"), std::string::npos);
  query.queued = 0;
  query.prompt_tokens = 33;  // three blocks in a pool of two
  decision = decide_admission(query);
  EXPECT_EQ(decision.status, SubmitStatus::kInvalid);
  EXPECT_NE(decision.error.find("33 tokens"), std::string::npos);
  query.prompt_tokens = 0;
  EXPECT_EQ(decide_admission(query).status, SubmitStatus::kInvalid);
}

}  // namespace
}  // namespace tether::sched
