#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tether::model {

// The hyperparameters of a Llama-architecture model that `make-model` writes
// (and that the llama.* GGUF keys record).
struct ModelShape {
  uint32_t hidden = 0;     // embedding_length
  uint32_t layers = 0;     // block_count
  uint32_t heads = 0;      // attention.head_count (query heads)
  uint32_t kv_heads = 0;   // attention.head_count_kv
  uint32_t ffn = 0;        // feed_forward_length
  uint32_t context = 0;    // context_length
  float rope_base = 10000.0f;
  float rms_eps = 1e-6f;
  bool tied_output = false;  // no output.weight: logits reuse token_embd.weight
  uint32_t vocab_size = 0;   // for the built-in vocabulary; --vocab files bring their own

  uint32_t head_dim() const { return heads == 0 ? 0 : hidden / heads; }
  uint32_t kv_dim() const { return head_dim() * kv_heads; }

  // Throws Error(kInvalidArgument) naming the first impossible field: zero
  // sizes, heads not dividing hidden, kv heads not dividing heads, an odd head
  // size (RoPE rotates pairs), a non-positive or non-finite rope base or eps.
  void validate() const;
};

// Named starting points; flags may override any field.
//   tiny: hidden 256, 2 layers, 4 heads / 2 KV heads, FFN 768, context 2048,
//         vocab 4096, untied output. Every row length is a multiple of 256, so
//         K-quants apply everywhere. A few MB: for tests and the demo model.
//   0.5b: Qwen2.5-0.5B's shape as a plain Llama: hidden 896, 24 layers, 14 / 2
//         heads, FFN 4864, context 32768, rope base 1e6, tied output, vocab
//         51200 (BENCHMARKS.md asks for ~50k to ~150k).
ModelShape model_shape_preset(std::string_view name);  // Error(kInvalidArgument) if unknown
std::vector<std::string> model_shape_preset_names();

}  // namespace tether::model
