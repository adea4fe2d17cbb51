#include "engine/model/llama_model.h"

#include <algorithm>

#include "common/error.h"
#include "engine/gguf/gguf_file.h"
#include "engine/kernels/activation.h"
#include "engine/kernels/quantize.h"
#include "engine/model/layer_ops.h"

namespace tether::model {
namespace {

// Grows a buffer to at least n elements; never shrinks, so steady-state
// steps reuse the same memory.
// Runs fn(row) for every row, spread over the pool when there are enough rows
// to pay for the hand-off.
template <typename Fn>
void for_rows(kernels::ThreadPool& pool, int64_t n_rows, const Fn& fn) {
  if (n_rows < 4 || pool.size() == 1) {
    for (int64_t row = 0; row < n_rows; ++row) fn(row);
    return;
  }
  pool.parallel_for(n_rows, 1, [&](int64_t begin, int64_t end, int) {
    for (int64_t row = begin; row < end; ++row) fn(row);
  });
}

template <typename T>
void reserve_at_least(std::vector<T>& buffer, size_t n) {
  if (buffer.size() < n) buffer.resize(n);
}

}  // namespace

LlamaModel LlamaModel::load(std::shared_ptr<const gguf::GgufFile> file) {
  if (!file) throw_error(ErrorCode::kInvalidArgument, "LlamaModel::load: no file");
  LlamaModel model;
  model.config_ = ModelConfig::from_gguf(*file);
  model.weights_ = std::make_shared<const ModelWeights>(ModelWeights::bind(*file, model.config_));
  model.rope_ = std::make_shared<const Rope>(model.config_.rope, model.weights_->rope_freqs);
  model.file_ = std::move(file);
  return model;
}

LlamaModel LlamaModel::share_weights() const {
  LlamaModel model;
  model.file_ = file_;
  model.config_ = config_;
  model.weights_ = weights_;
  model.rope_ = rope_;
  return model;
}

kv::KvShape LlamaModel::kv_shape(int32_t block_tokens, kv::KvType type) const {
  kv::KvShape shape;
  shape.n_layers = config_.n_layers;
  shape.n_kv_heads = config_.n_kv_heads;
  shape.head_dim = config_.head_dim;
  shape.block_tokens = block_tokens;
  shape.type = type;
  return shape;
}

void LlamaModel::validate(std::span<const SequenceInput> batch,
                          const kv::KvBlockStorage& kv) const {
  const kv::KvShape& shape = kv.shape();
  if (shape.n_layers != config_.n_layers || shape.n_kv_heads != config_.n_kv_heads ||
      shape.head_dim != config_.head_dim) {
    throw_error(ErrorCode::kInvalidArgument,
                "forward: KV storage of {} layers x {} heads x {} dims does not fit the model's "
                "{} x {} x {}",
                shape.n_layers, shape.n_kv_heads, shape.head_dim, config_.n_layers,
                config_.n_kv_heads, config_.head_dim);
  }
  if (batch.empty()) throw_error(ErrorCode::kInvalidArgument, "forward: empty batch");
  for (size_t seq = 0; seq < batch.size(); ++seq) {
    const SequenceInput& input = batch[seq];
    if (input.tokens.empty()) {
      throw_error(ErrorCode::kInvalidArgument, "forward: sequence {} has no tokens", seq);
    }
    if (input.start_pos < 0 ||
        static_cast<int64_t>(input.start_pos) + static_cast<int64_t>(input.tokens.size()) >
            (int64_t{1} << 30)) {
      throw_error(ErrorCode::kInvalidArgument, "forward: sequence {} starts at position {}", seq,
                  input.start_pos);
    }
    for (TokenId token : input.tokens) {
      if (token < 0 || token >= config_.vocab_size) {
        throw_error(ErrorCode::kInvalidArgument,
                    "forward: sequence {}: token id {} is outside the vocabulary of {}", seq, token,
                    config_.vocab_size);
      }
    }
    const int64_t end = input.start_pos + static_cast<int64_t>(input.tokens.size());
    const int64_t needed = (end + shape.block_tokens - 1) / shape.block_tokens;
    if (static_cast<int64_t>(input.block_table.size()) < needed) {
      throw_error(ErrorCode::kInvalidArgument,
                  "forward: sequence {}: block table of {} blocks cannot hold {} positions "
                  "({} per block)",
                  seq, input.block_table.size(), end, shape.block_tokens);
    }
    for (int64_t i = 0; i < needed; ++i) kv.check_block(input.block_table[i]);
  }
}

void LlamaModel::ensure_scratch(int64_t n_tokens) {
  Scratch& s = scratch_;
  if (n_tokens > s.capacity) {
    const size_t n = static_cast<size_t>(n_tokens);
    reserve_at_least(s.x, n * config_.hidden);
    reserve_at_least(s.xn, n * config_.hidden);
    reserve_at_least(s.q, n * config_.q_dim());
    reserve_at_least(s.k, n * config_.kv_dim());
    reserve_at_least(s.v, n * config_.kv_dim());
    reserve_at_least(s.attn, n * config_.q_dim());
    reserve_at_least(s.gate, n * config_.ffn);
    reserve_at_least(s.up, n * config_.ffn);
    reserve_at_least(s.rope_cos, n * rope_->n_pairs());
    reserve_at_least(s.rope_sin, n * rope_->n_pairs());
    reserve_at_least(s.positions, n);
    reserve_at_least(s.seq_of_row, n);
    reserve_at_least(s.logit_rows, n);
    s.capacity = n_tokens;
  }
}

void LlamaModel::forward(std::span<const SequenceInput> batch, kv::KvBlockStorage& kv,
                         ForwardOutput& out, kernels::ThreadPool& pool, kernels::KernelPath path) {
  validate(batch, kv);
  int64_t n_tokens = 0;
  for (const auto& input : batch) n_tokens += static_cast<int64_t>(input.tokens.size());
  ensure_scratch(n_tokens);
  Scratch& s = scratch_;
  const int64_t hidden = config_.hidden;
  const int32_t n_pairs = rope_->n_pairs();

  // Pack every sequence's tokens into one activation matrix and note which
  // rows produce logits.
  out.n_vocab = config_.vocab_size;
  out.first_row.assign(1, 0);
  int64_t n_logit_rows = 0;
  {
    int64_t row = 0;
    std::vector<float>& x = s.x;
    for (size_t seq = 0; seq < batch.size(); ++seq) {
      const SequenceInput& input = batch[seq];
      for (size_t t = 0; t < input.tokens.size(); ++t, ++row) {
        const TokenId token = input.tokens[t];
        const auto& embd = weights_->token_embd;
        kernels::dequantize_row(
            embd.type, {embd.data + static_cast<size_t>(token) * embd.row_bytes, embd.row_bytes},
            {x.data() + row * hidden, static_cast<size_t>(hidden)});
        const int32_t pos = input.start_pos + static_cast<int32_t>(t);
        s.positions[row] = pos;
        s.seq_of_row[row] = static_cast<int32_t>(seq);
        rope_->angles(pos, s.rope_cos.data() + row * n_pairs, s.rope_sin.data() + row * n_pairs);
        if (input.all_logits || t + 1 == input.tokens.size()) s.logit_rows[n_logit_rows++] = row;
      }
      out.first_row.push_back(static_cast<int32_t>(n_logit_rows));
    }
  }

  // Attention work: one task per sequence, its items (a KV head and a tile
  // of tokens) numbered across the batch so one parallel_for covers every
  // sequence.
  s.tasks.resize(batch.size());
  s.task_first_item.resize(batch.size() + 1);
  s.task_first_item[0] = 0;
  {
    int64_t row = 0;
    for (size_t seq = 0; seq < batch.size(); ++seq) {
      kernels::AttentionTask& task = s.tasks[seq];
      task.q = s.q.data() + row * config_.q_dim();
      task.q_stride = config_.q_dim();
      task.out = s.attn.data() + row * config_.q_dim();
      task.out_stride = config_.q_dim();
      task.n_tokens = static_cast<int32_t>(batch[seq].tokens.size());
      task.start_pos = batch[seq].start_pos;
      task.n_heads = config_.n_heads;
      task.block_table = batch[seq].block_table;
      s.task_first_item[seq + 1] =
          s.task_first_item[seq] + kernels::attention_items(task, kv.shape());
      row += task.n_tokens;
    }
  }

  for (int32_t layer_idx = 0; layer_idx < config_.n_layers; ++layer_idx) {
    run_layer(layer_idx, batch, n_tokens, kv, pool, path);
  }

  // Final norm of the rows that need logits, then the output matrix once.
  reserve_at_least(s.logits_in, static_cast<size_t>(n_logit_rows * hidden));
  for (int64_t i = 0; i < n_logit_rows; ++i) {
    rms_norm(s.x.data() + s.logit_rows[i] * hidden, weights_->output_norm.data(), hidden,
             config_.rms_eps, s.logits_in.data() + i * hidden);
  }
  out.logits.resize(static_cast<size_t>(n_logit_rows) * config_.vocab_size);
  kernels::matmul(weights_->output, s.logits_in.data(), n_logit_rows, hidden, out.logits.data(),
                  config_.vocab_size, pool, path);
}

void LlamaModel::run_layer(int32_t layer_idx, std::span<const SequenceInput> batch,
                           int64_t n_tokens, kv::KvBlockStorage& kv, kernels::ThreadPool& pool,
                           kernels::KernelPath path) {
  Scratch& s = scratch_;
  const LayerWeights& w = weights_->layers[layer_idx];
  const int64_t hidden = config_.hidden;
  const int64_t q_dim = config_.q_dim();
  const int64_t kv_dim = config_.kv_dim();
  const int64_t ffn = config_.ffn;
  const int32_t head_dim = config_.head_dim;
  const int32_t n_pairs = rope_->n_pairs();
  const int32_t block_tokens = kv.shape().block_tokens;

  // Attention block. Row-wise steps run on the pool too: at prefill sizes
  // they would otherwise leave all but one thread idle between matmuls.
  for_rows(pool, n_tokens, [&](int64_t row) {
    rms_norm(s.x.data() + row * hidden, w.attn_norm.data(), hidden, config_.rms_eps,
             s.xn.data() + row * hidden);
  });
  kernels::matmul(w.wq, s.xn.data(), n_tokens, hidden, s.q.data(), q_dim, pool, path);
  kernels::matmul(w.wk, s.xn.data(), n_tokens, hidden, s.k.data(), kv_dim, pool, path);
  kernels::matmul(w.wv, s.xn.data(), n_tokens, hidden, s.v.data(), kv_dim, pool, path);
  for_rows(pool, n_tokens, [&](int64_t row) {
    float* q = s.q.data() + row * q_dim;
    float* k = s.k.data() + row * kv_dim;
    float* v = s.v.data() + row * kv_dim;
    if (!w.bq.empty()) add_in_place(q, w.bq.data(), q_dim);
    if (!w.bk.empty()) add_in_place(k, w.bk.data(), kv_dim);
    if (!w.bv.empty()) add_in_place(v, w.bv.data(), kv_dim);
    if (!w.q_norm.empty()) {
      for (int32_t h = 0; h < config_.n_heads; ++h) {
        rms_norm(q + h * head_dim, w.q_norm.data(), head_dim, config_.rms_eps, q + h * head_dim);
      }
      for (int32_t h = 0; h < config_.n_kv_heads; ++h) {
        rms_norm(k + h * head_dim, w.k_norm.data(), head_dim, config_.rms_eps, k + h * head_dim);
      }
    }
    const float* cos_v = s.rope_cos.data() + row * n_pairs;
    const float* sin_v = s.rope_sin.data() + row * n_pairs;
    rope_->apply(q, config_.n_heads, head_dim, cos_v, sin_v);
    rope_->apply(k, config_.n_kv_heads, head_dim, cos_v, sin_v);
    const int32_t pos = s.positions[row];
    const SequenceInput& input = batch[s.seq_of_row[row]];
    kv.write(input.block_table[pos / block_tokens], pos % block_tokens, layer_idx, k, v);
  });

  for (auto& task : s.tasks) task.layer = layer_idx;
  const int64_t n_items = s.task_first_item.back();
  pool.parallel_for(n_items, 1, [&](int64_t begin, int64_t end, int) {
    size_t seq = std::upper_bound(s.task_first_item.begin(), s.task_first_item.end(), begin) -
                 s.task_first_item.begin() - 1;
    for (int64_t item = begin; item < end; ++item) {
      while (item >= s.task_first_item[seq + 1]) ++seq;
      kernels::attention_item(s.tasks[seq], kv, item - s.task_first_item[seq], path);
    }
  });

  kernels::matmul(w.wo, s.attn.data(), n_tokens, q_dim, s.xn.data(), hidden, pool, path);
  // Feed-forward block (SwiGLU), after the attention residual.
  for_rows(pool, n_tokens, [&](int64_t row) {
    add_in_place(s.x.data() + row * hidden, s.xn.data() + row * hidden, hidden);
    rms_norm(s.x.data() + row * hidden, w.ffn_norm.data(), hidden, config_.rms_eps,
             s.xn.data() + row * hidden);
  });
  kernels::matmul(w.gate, s.xn.data(), n_tokens, hidden, s.gate.data(), ffn, pool, path);
  kernels::matmul(w.up, s.xn.data(), n_tokens, hidden, s.up.data(), ffn, pool, path);
  for_rows(pool, n_tokens, [&](int64_t row) {
    kernels::swiglu(s.gate.data() + row * ffn, s.up.data() + row * ffn, ffn, path);
  });
  kernels::matmul(w.down, s.gate.data(), n_tokens, ffn, s.xn.data(), hidden, pool, path);
  add_in_place(s.x.data(), s.xn.data(), n_tokens * hidden);
}

}  // namespace tether::model
