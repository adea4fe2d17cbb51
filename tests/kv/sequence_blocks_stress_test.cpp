// A simulated scheduler drives many sequences through one small pool:
// random shared prefixes, chunked prefill, decode, cancellations, waits and
// preemption on allocation failure. A fake KV store records, for every
// position written, a fingerprint of the whole prefix up to it; every read
// (cache hits included) must find its own prefix's fingerprint, and the
// pool's invariants must hold after every step.

#include <gtest/gtest.h>

#include <cstdio>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "common/split_mix64.h"
#include "kv/sequence_blocks.h"

namespace tether::kv {
namespace {

constexpr int kBlockTokens = 4;
constexpr int kPoolBlocks = 64;
constexpr int kSequences = 400;
constexpr int kMaxRunning = 12;
constexpr int kAdmitFreeBlocks = 8;
constexpr int kSystemPrompts = 4;
constexpr int kSystemPromptTokens = 40;

uint64_t mix(uint64_t a, uint64_t b) { return SplitMix64(a * 0x9E3779B97F4A7C15ull ^ b).next(); }

struct SimSequence {
  std::unique_ptr<SequenceBlocks> blocks;
  int salt_idx = 0;
  int max_generated = 0;
  int generated = 0;
  // fingerprint[p]: what the KV at position p must look like (it depends on
  // the salt and every token up to p, as real KV depends on the prefix).
  std::vector<uint64_t> fingerprint;
};

class Simulation {
 public:
  explicit Simulation(uint64_t seed) : rng_(seed), pool_(kPoolBlocks, kBlockTokens) {
    kv_.assign(static_cast<size_t>(kPoolBlocks * kBlockTokens), 0);
    for (int prompt_idx = 0; prompt_idx < kSystemPrompts; ++prompt_idx) {
      std::vector<KvTokenId> prompt;
      for (int i = 0; i < kSystemPromptTokens; ++i) prompt.push_back(random_token());
      system_prompts_.push_back(prompt);
    }
  }

  void run() {
    int steps = 0;
    while (created_ < kSequences || !running_.empty() || !waiting_.empty()) {
      ASSERT_LT(++steps, 200000) << "no progress";
      step();
      if (::testing::Test::HasFatalFailure()) return;
      check_invariants();
      if (::testing::Test::HasFatalFailure()) return;
    }
    ASSERT_EQ(pool_.used_blocks(), 0);
    ASSERT_EQ(pool_.free_blocks(), kPoolBlocks);
    const KvCacheStats stats = pool_.stats();
    // The run must have exercised every path it is meant to.
    EXPECT_GT(stats.hit_blocks, 100u);
    EXPECT_GT(stats.evicted_blocks, 100u);
    EXPECT_GT(stats.waits, 10u);
    EXPECT_GT(preemptions_, 10);
    EXPECT_GT(cancellations_, 10);
    EXPECT_GT(finished_, kSequences / 2);
    EXPECT_LE(stats.hit_tokens, stats.query_tokens);
    EXPECT_LE(stats.hit_blocks, stats.query_blocks);
    EXPECT_EQ(finished_ + cancellations_, kSequences);
    std::printf(
        "[ stats    ] steps %d finished %d cancelled %d preempted %d queries %llu hit blocks "
        "%llu/%llu "
        "waits %llu evicted %llu\n",
        steps, finished_, cancellations_, preemptions_,
        static_cast<unsigned long long>(stats.queries),
        static_cast<unsigned long long>(stats.hit_blocks),
        static_cast<unsigned long long>(stats.query_blocks),
        static_cast<unsigned long long>(stats.waits),
        static_cast<unsigned long long>(stats.evicted_blocks));
  }

 private:
  uint64_t random(uint64_t n) { return rng_.next() % n; }
  KvTokenId random_token() { return static_cast<KvTokenId>(random(32000)); }

  void append(SimSequence& seq, KvTokenId token) {
    const uint64_t previous = seq.fingerprint.empty()
                                  ? mix(0xabcdef, static_cast<uint64_t>(seq.salt_idx))
                                  : seq.fingerprint.back();
    seq.fingerprint.push_back(mix(previous, static_cast<uint64_t>(token)));
  }

  size_t slot_of(const SimSequence& seq, int position) const {
    const BlockId block = seq.blocks->block_table()[static_cast<size_t>(position / kBlockTokens)];
    return static_cast<size_t>(to_index(block) * kBlockTokens + position % kBlockTokens);
  }

  // Attention reads every computed position through the block table.
  void expect_readable(const SimSequence& seq) {
    for (int position = 0; position < seq.blocks->n_computed_tokens(); ++position) {
      ASSERT_EQ(kv_[slot_of(seq, position)], seq.fingerprint[static_cast<size_t>(position)])
          << "position " << position << " reads another prefix's KV";
    }
  }

  void create() {
    auto seq = std::make_unique<SimSequence>();
    seq->salt_idx = static_cast<int>(random(2));
    seq->max_generated = 1 + static_cast<int>(random(30));
    const auto& system = system_prompts_[random(kSystemPrompts)];
    const size_t shared = random(kSystemPromptTokens + 1);
    std::vector<KvTokenId> prompt(system.begin(), system.begin() + static_cast<ptrdiff_t>(shared));
    const int suffix = 1 + static_cast<int>(random(20));
    for (int i = 0; i < suffix; ++i) prompt.push_back(random_token());
    for (KvTokenId token : prompt) append(*seq, token);
    seq->blocks =
        std::make_unique<SequenceBlocks>(pool_, prompt, "tenant-" + std::to_string(seq->salt_idx));
    waiting_.push_back(std::move(seq));
    ++created_;
  }

  // Releases `seq`'s blocks and puts it back in line (recompute preemption).
  void preempt(std::unique_ptr<SimSequence> seq) {
    seq->blocks->release();
    ++preemptions_;
    waiting_.push_front(std::move(seq));
  }

  enum class Outcome { kNoBlock, kRunning, kFinished };

  // One forward step over the next `chunk` tokens of a running sequence.
  Outcome advance(SimSequence& seq, int chunk) {
    SequenceBlocks& blocks = *seq.blocks;
    if (blocks.allocate_slots(chunk) == AllocResult::kNoBlock) {
      EXPECT_GT(blocks.blocks_needed(chunk), pool_.free_blocks());
      return Outcome::kNoBlock;
    }
    expect_readable(seq);
    const int first = blocks.n_computed_tokens();
    for (int position = first; position < first + chunk; ++position) {
      const BlockId block = blocks.block_table()[static_cast<size_t>(position / kBlockTokens)];
      // Only the sequence that owns a block alone may write it.
      EXPECT_EQ(pool_.ref_count(block), 1);
      EXPECT_FALSE(pool_.is_ready(block));
      kv_[slot_of(seq, position)] = seq.fingerprint[static_cast<size_t>(position)];
    }
    blocks.commit(chunk);
    if (blocks.n_computed_tokens() < blocks.n_tokens()) return Outcome::kRunning;
    // Prefill done or a decode step done: "sample" the next token.
    if (seq.generated == seq.max_generated) {
      blocks.release();
      ++finished_;
      return Outcome::kFinished;
    }
    const KvTokenId token = random_token();
    append(seq, token);
    blocks.append_token(token);
    ++seq.generated;
    return Outcome::kRunning;
  }

  void step() {
    if (created_ < kSequences && random(3) != 0) create();

    // Running sequences first (so their next prefill chunk is claimed before
    // new sequences look the prefix up), oldest first. When the pool runs
    // dry, the newest running sequence is preempted, down to the one asking.
    std::vector<std::unique_ptr<SimSequence>> still_running;
    size_t end = running_.size();
    for (size_t seq_idx = 0; seq_idx < end; ++seq_idx) {
      std::unique_ptr<SimSequence>& seq = running_[seq_idx];
      if (random(300) == 0) {
        seq->blocks->release();
        ++cancellations_;
        continue;
      }
      const int chunk = std::min(seq->blocks->n_tokens() - seq->blocks->n_computed_tokens(),
                                 1 + static_cast<int>(random(8)));
      Outcome outcome = advance(*seq, chunk);
      while (outcome == Outcome::kNoBlock && end - 1 > seq_idx) {
        preempt(std::move(running_[--end]));
        outcome = advance(*seq, chunk);
      }
      if (::testing::Test::HasFatalFailure()) return;
      if (outcome == Outcome::kNoBlock) {
        preempt(std::move(seq));
      } else if (outcome == Outcome::kRunning) {
        still_running.push_back(std::move(seq));
      }
    }
    running_ = std::move(still_running);

    // Admission in arrival order; a sequence told to wait keeps its place.
    std::deque<std::unique_ptr<SimSequence>> still_waiting;
    while (!waiting_.empty()) {
      std::unique_ptr<SimSequence> seq = std::move(waiting_.front());
      waiting_.pop_front();
      if (random(3000) == 0) {
        ++cancellations_;  // cancelled while queued: holds nothing
        continue;
      }
      // Admit while the batch has room and the pool some slack; else the
      // newest sequences would be preempted again right away.
      if (static_cast<int>(running_.size()) >= kMaxRunning ||
          pool_.free_blocks() < kAdmitFreeBlocks) {
        still_waiting.push_back(std::move(seq));
        continue;
      }
      const StartResult start = seq->blocks->start();
      if (start.status == StartStatus::kMustWait) {
        EXPECT_EQ(pool_.state(start.wait_for), HashState::kPending);
        EXPECT_TRUE(seq->blocks->block_table().empty());
        still_waiting.push_back(std::move(seq));
        continue;
      }
      EXPECT_EQ(start.cached_tokens % kBlockTokens, 0);
      EXPECT_LT(start.cached_tokens, seq->blocks->n_tokens());
      expect_readable(*seq);
      running_.push_back(std::move(seq));
    }
    waiting_ = std::move(still_waiting);
  }

  void check_invariants() {
    std::vector<std::span<const BlockId>> tables;
    for (const auto& seq : running_) {
      tables.push_back(seq->blocks->block_table());
      ASSERT_NO_THROW(seq->blocks->check_invariants());
    }
    for (const auto& seq : waiting_) {
      tables.push_back(seq->blocks->block_table());
      ASSERT_NO_THROW(seq->blocks->check_invariants());
    }
    ASSERT_NO_THROW(pool_.check_invariants(tables));
    const KvCacheStats stats = pool_.stats();
    ASSERT_EQ(stats.used_blocks + stats.free_blocks, stats.total_blocks);
    ASSERT_LE(stats.cached_blocks, stats.free_blocks);
  }

  SplitMix64 rng_;
  BlockPool pool_;
  std::vector<uint64_t> kv_;  // fingerprint per (block, slot)
  std::vector<std::vector<KvTokenId>> system_prompts_;
  std::vector<std::unique_ptr<SimSequence>> running_;
  std::deque<std::unique_ptr<SimSequence>> waiting_;
  int created_ = 0;
  int finished_ = 0;
  int cancellations_ = 0;
  int preemptions_ = 0;
};

TEST(SequenceBlocksStress, RandomSharedPrefixesCancellationsAndEvictionKeepInvariants) {
  for (uint64_t seed : {1ull, 2ull, 3ull}) {
    SCOPED_TRACE(seed);
    Simulation simulation(seed);
    simulation.run();
    if (HasFatalFailure()) return;
  }
}

}  // namespace
}  // namespace tether::kv
