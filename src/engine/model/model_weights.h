#pragma once

#include <vector>

#include "engine/kernels/matmul.h"
#include "engine/model/model_config.h"

namespace tether::gguf {
class GgufFile;
}

namespace tether::model {

// One transformer block's tensors. Matrices point into the file's mapping
// (zero copy); the small 1-D vectors (norm weights, biases) are copied to
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

  // Binds every tensor the config calls for, checking presence, dims and
  // type before anything is computed. Errors name the tensor, its shape and
  // type, and what was expected (kNotFound for a missing tensor,
  // kCorruptData for a wrong shape, kUnsupported for a type the kernels do
  // not multiply). The file must outlive the returned views.
  static ModelWeights bind(const gguf::GgufFile& file, const ModelConfig& config);
};

}  // namespace tether::model
