#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace tether::gguf {
class GgufFile;
}

namespace tether::model {

// The decoder-only architectures the engine runs (general.architecture).
enum class Architecture {
  kLlama,  // Llama 2/3.x, Mistral: RoPE on adjacent pairs
  kQwen2,  // biases on the Q/K/V projections; NeoX RoPE
  kQwen3,  // per-head RMSNorm of Q and K before RoPE; NeoX RoPE
};

std::string_view architecture_name(Architecture arch);

// Which elements RoPE rotates together: kNormal pairs (2i, 2i+1) as in the
// original Llama weights; kNeox pairs (i, i + n_dims/2) as in GPT-NeoX/Qwen.
enum class RopeOrdering { kNormal, kNeox };

// How positions are stretched beyond the trained context. kLlama3 takes its
// per-frequency factors from the rope_freqs.weight tensor (llama.cpp's
// representation), which may also accompany other scaling types.
enum class RopeScalingType { kNone, kLinear, kYarn };

struct RopeConfig {
  RopeOrdering ordering = RopeOrdering::kNormal;
  int32_t n_dims = 0;          // rotated elements per head (<= head_dim, even)
  float freq_base = 10000.0f;  // rope.freq_base
  RopeScalingType scaling = RopeScalingType::kNone;
  float factor = 1.0f;              // rope.scaling.factor (positions / factor)
  int32_t original_context = 0;     // rope.scaling.original_context_length
  float attn_factor = 1.0f;         // rope.scaling.attn_factor
  float yarn_ext_factor = 0.0f;     // 1 for YaRN unless the file says otherwise
  float yarn_beta_fast = 32.0f;
  float yarn_beta_slow = 1.0f;
  bool has_freq_factors = false;    // rope_freqs.weight present (llama3 scaling)
};

// Hyperparameters of a model, read from GGUF metadata and checked for
// consistency (positive sizes, heads dividing, even rope dims).
struct ModelConfig {
  Architecture arch = Architecture::kLlama;
  int32_t hidden = 0;      // <arch>.embedding_length
  int32_t n_layers = 0;    // <arch>.block_count
  int32_t ffn = 0;         // <arch>.feed_forward_length
  int32_t n_heads = 0;     // <arch>.attention.head_count
  int32_t n_kv_heads = 0;  // <arch>.attention.head_count_kv (default n_heads)
  int32_t head_dim = 0;    // <arch>.attention.key_length (= value_length)
  float rms_eps = 1e-6f;   // <arch>.attention.layer_norm_rms_epsilon
  int32_t context_length = 0;
  int32_t vocab_size = 0;  // tokenizer.ggml.tokens count (or <arch>.vocab_size)
  RopeConfig rope;

  int32_t q_dim() const { return n_heads * head_dim; }
  int32_t kv_dim() const { return n_kv_heads * head_dim; }
  bool has_qkv_bias() const { return arch == Architecture::kQwen2; }
  bool has_qk_norm() const { return arch == Architecture::kQwen3; }

  // Throws Error(kUnsupported) naming an architecture other than llama, qwen2
  // and qwen3, Error(kNotFound) naming a missing required key, and
  // Error(kCorruptData) naming an impossible value.
  static ModelConfig from_gguf(const gguf::GgufFile& file);
};

}  // namespace tether::model
