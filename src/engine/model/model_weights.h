#pragma once

#include <vector>

#include "engine/kernels/interleave.h"
#include "engine/kernels/matmul.h"
#include "engine/model/model_config.h"

namespace tether::gguf {
class GgufFile;
}

namespace tether::model {

// One transformer block's tensors. Matrices point into the file's mapping
// (zero copy), or into ModelWeights::packed when they were repacked into a
// faster layout; the small 1-D vectors (norm weights, biases) are copied to
// float vectors so their alignment and type never matter.
struct LayerWeights {
  std::vector<float> attn_norm;  // [hidden]
  kernels::WeightMatrix wq;      // [q_dim x hidden]
  kernels::WeightMatrix wk;      // [kv_dim x hidden]
  kernels::WeightMatrix wv;      // [kv_dim x hidden]
  std::vector<float> bq, bk, bv; // qwen2 only: [q_dim], [kv_dim], [kv_dim]
  std::vector<float> q_norm;     // qwen3 only: [head_dim]
  std::vector<float> k_norm;     // qwen3 only: [head_dim]
  kernels::WeightMatrix wo;      // [hidden x q_dim]
  std::vector<float> ffn_norm;   // [hidden]
  kernels::WeightMatrix gate;    // [ffn x hidden]
  kernels::WeightMatrix up;      // [ffn x hidden]
  kernels::WeightMatrix down;    // [hidden x ffn]
};

struct ModelWeights {
  kernels::WeightMatrix token_embd;  // [vocab x hidden]
  kernels::WeightMatrix output;      // [vocab x hidden]; token_embd when tied
  bool tied_output = false;
  std::vector<float> output_norm;    // [hidden]
  std::vector<float> rope_freqs;     // [rope n_dims / 2] (llama3 scaling), or empty
  std::vector<LayerWeights> layers;
  // Memory of the matrices repacked at load (see kernels/interleave.h).
  std::vector<kernels::AlignedBuffer> packed;

  // Binds every tensor the config calls for, checking presence, dims and
  // type before anything is computed. Errors name the tensor, its shape and
  // type, and what was expected (kNotFound for a missing tensor,
  // kCorruptData for a wrong shape, kUnsupported for a type the kernels do
  // not multiply). The file must outlive the returned views.
  // With `pack`, matrices of types with a faster layout (Q4_0, Q8_0) are
  // repacked into owned memory, and the file's pages they came from are
  // released, so resident memory stays about one copy of the weights. The
  // token embeddings stay in the file (rows are looked up one at a time);
  // a tied output matrix gets its own packed copy.
  static ModelWeights bind(const gguf::GgufFile& file, const ModelConfig& config, bool pack = true);
};

}  // namespace tether::model
