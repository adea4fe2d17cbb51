#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "engine/kernels/attention.h"
#include "engine/kernels/matmul.h"
#include "engine/kernels/thread_pool.h"
#include "engine/model/model_config.h"
#include "engine/model/model_weights.h"
#include "engine/model/rope.h"
#include "engine/tokenizer/token_id.h"
#include "kv/kv_block_storage.h"

namespace tether::gguf {
class GgufFile;
}

namespace tether::model {

using tokenizer::TokenId;

// One sequence's part of a forward step: its new tokens sit at positions
// start_pos, start_pos + 1, ...; its block table covers positions
// [0, start_pos + tokens.size()) (earlier positions' K/V already stored).
struct SequenceInput {
  std::span<const TokenId> tokens;
  int32_t start_pos = 0;
  std::span<const kv::BlockId> block_table;
  bool all_logits = false;  // logits for every new token, not just the last
};

// Logits of a forward step: rows of n_vocab floats. Sequence s owns rows
// [first_row[s], first_row[s + 1]): one row (its last token) or, with
// all_logits, one per new token. Buffers keep their capacity across steps.
struct ForwardOutput {
  int32_t n_vocab = 0;
  std::vector<float> logits;
  std::vector<int32_t> first_row;  // size n_sequences + 1

  int32_t n_rows() const { return first_row.empty() ? 0 : first_row.back(); }
  std::span<const float> row(int32_t row_idx) const {
    return {logits.data() + static_cast<size_t>(row_idx) * n_vocab, static_cast<size_t>(n_vocab)};
  }
  // The logits of sequence `seq`'s last new token.
  std::span<const float> last(int32_t seq) const { return row(first_row[seq + 1] - 1); }
};

// A llama / qwen2 / qwen3 decoder over a mapped GGUF file. forward() runs
// one step for a batch of sequences: every sequence's tokens are packed into
// one activation matrix, so each weight matrix is read once per layer for
// the whole batch; attention runs per sequence through its block table.
// Scratch buffers grow to the largest batch seen and are then reused.
// Not thread-safe: one forward at a time (it parallelizes internally).
class LlamaModel {
 public:
  // Reads the config and binds every weight (all checks happen here, before
  // any compute). Errors as ModelConfig::from_gguf and ModelWeights::bind.
  static LlamaModel load(std::shared_ptr<const gguf::GgufFile> file);

  // Another model over the same weights, with scratch of its own: local
  // engine replicas each run forwards of their own but hold one copy of the
  // weights between them.
  LlamaModel share_weights() const;

  const ModelConfig& config() const { return config_; }
  const ModelWeights& weights() const { return *weights_; }
  const gguf::GgufFile& file() const { return *file_; }

  // The KV shape this model writes (for sizing a KvBlockStorage).
  kv::KvShape kv_shape(int32_t block_tokens = 16, kv::KvType type = kv::KvType::kF16) const;

  // Runs the batch, writing new K/V into `kv` and logits into `out`.
  // Throws Error(kInvalidArgument) before computing anything if a token id is
  // out of range, a sequence is empty, a block table is too short or names a
  // block outside `kv`, or `kv`'s shape does not match the model.
  void forward(std::span<const SequenceInput> batch, kv::KvBlockStorage& kv, ForwardOutput& out,
               kernels::ThreadPool& pool, kernels::KernelPath path = kernels::best_kernel_path());

 private:
  struct Scratch {
    int64_t capacity = 0;  // token rows the activation buffers hold
    std::vector<float> x, xn, q, k, v, attn, gate, up;
    std::vector<float> rope_cos, rope_sin;  // [row][n_pairs]
    std::vector<int32_t> positions;         // [row]
    std::vector<int32_t> seq_of_row;        // [row]
    std::vector<float> logits_in;           // normed rows that need logits
    std::vector<int64_t> logit_rows;        // which packed rows need logits
    std::vector<kernels::AttentionTask> tasks;
    std::vector<int64_t> task_first_item;   // prefix sums of attention items
  };

  LlamaModel() = default;
  void validate(std::span<const SequenceInput> batch, const kv::KvBlockStorage& kv) const;
  void ensure_scratch(int64_t n_tokens);
  void run_layer(int32_t layer_idx, std::span<const SequenceInput> batch, int64_t n_tokens,
                 kv::KvBlockStorage& kv, kernels::ThreadPool& pool, kernels::KernelPath path);

  std::shared_ptr<const gguf::GgufFile> file_;
  ModelConfig config_;
  std::shared_ptr<const ModelWeights> weights_;  // shared by share_weights() copies
  std::shared_ptr<const Rope> rope_;
  Scratch scratch_;
};

}  // namespace tether::model
