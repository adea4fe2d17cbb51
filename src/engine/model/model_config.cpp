#include "engine/model/model_config.h"

#include <cmath>
#include <string>

#include "common/error.h"
#include "engine/gguf/gguf_file.h"

namespace tether::model {
namespace {

// Bounds far beyond any real model's, so hostile metadata cannot ask for
// absurd scratch sizes.
constexpr uint64_t kMaxDim = 1 << 20;
constexpr uint64_t kMaxLayers = 1 << 12;
constexpr uint64_t kMaxVocab = 1 << 24;

class ConfigReader {
 public:
  ConfigReader(const gguf::GgufFile& file, std::string prefix)
      : file_(file), prefix_(std::move(prefix)) {}

  std::string key(std::string_view name) const { return prefix_ + "." + std::string(name); }

  int32_t required_int(std::string_view name, uint64_t max) const {
    return checked(name, file_.get_uint(key(name)), max);
  }
  int32_t optional_int(std::string_view name, uint64_t max, int32_t fallback) const {
    auto value = file_.find_uint(key(name));
    return value ? checked(name, *value, max) : fallback;
  }
  float optional_float(std::string_view name, float fallback) const {
    auto value = file_.find_float(key(name));
    if (!value) return fallback;
    if (!std::isfinite(*value)) {
      throw_error(ErrorCode::kCorruptData, "model {}: {} is not finite", file_.source_name(), key(name));
    }
    return static_cast<float>(*value);
  }

 private:
  int32_t checked(std::string_view name, uint64_t value, uint64_t max) const {
    if (value == 0 || value > max) {
      throw_error(ErrorCode::kCorruptData, "model {}: {} = {} is outside [1, {}]",
                  file_.source_name(), key(name), value, max);
    }
    return static_cast<int32_t>(value);
  }

  const gguf::GgufFile& file_;
  std::string prefix_;
};

}  // namespace

std::string_view architecture_name(Architecture arch) {
  switch (arch) {
    case Architecture::kLlama: return "llama";
    case Architecture::kQwen2: return "qwen2";
    case Architecture::kQwen3: return "qwen3";
  }
  return "?";
}

ModelConfig ModelConfig::from_gguf(const gguf::GgufFile& file) {
  const std::string arch_name = file.get_string("general.architecture");
  ModelConfig config;
  if (arch_name == "llama") {
    config.arch = Architecture::kLlama;
  } else if (arch_name == "qwen2") {
    config.arch = Architecture::kQwen2;
  } else if (arch_name == "qwen3") {
    config.arch = Architecture::kQwen3;
  } else {
    throw_error(ErrorCode::kUnsupported,
                "model {}: architecture '{}' is not supported (supported: llama, qwen2, qwen3)",
                file.source_name(), arch_name);
  }
  const std::string& name = file.source_name();
  const ConfigReader reader(file, arch_name);

  config.hidden = reader.required_int("embedding_length", kMaxDim);
  config.n_layers = reader.required_int("block_count", kMaxLayers);
  config.ffn = reader.required_int("feed_forward_length", kMaxDim);
  config.n_heads = reader.required_int("attention.head_count", kMaxDim);
  config.n_kv_heads = reader.optional_int("attention.head_count_kv", kMaxDim, config.n_heads);
  if (config.hidden % config.n_heads != 0 &&
      !file.find_uint(reader.key("attention.key_length"))) {
    throw_error(ErrorCode::kCorruptData, "model {}: {} heads do not divide embedding length {}",
                name, config.n_heads, config.hidden);
  }
  const int32_t default_head_dim = config.hidden / config.n_heads;
  config.head_dim = reader.optional_int("attention.key_length", kMaxDim, default_head_dim);
  const int32_t value_dim = reader.optional_int("attention.value_length", kMaxDim, config.head_dim);
  if (value_dim != config.head_dim) {
    throw_error(ErrorCode::kUnsupported,
                "model {}: key length {} differs from value length {} (not supported)", name,
                config.head_dim, value_dim);
  }
  if (config.n_heads % config.n_kv_heads != 0) {
    throw_error(ErrorCode::kCorruptData, "model {}: {} KV heads do not divide {} query heads", name,
                config.n_kv_heads, config.n_heads);
  }
  if (static_cast<int64_t>(config.n_heads) * config.head_dim > static_cast<int64_t>(kMaxDim)) {
    throw_error(ErrorCode::kCorruptData, "model {}: {} heads x {} head dim is too large", name,
                config.n_heads, config.head_dim);
  }
  config.rms_eps = reader.optional_float("attention.layer_norm_rms_epsilon", 1e-6f);
  if (config.rms_eps <= 0.0f) {
    throw_error(ErrorCode::kCorruptData, "model {}: RMS norm epsilon {} must be positive", name,
                config.rms_eps);
  }
  config.context_length = reader.optional_int("context_length", 1u << 30, 4096);

  // Vocabulary: the tokenizer's token list is authoritative, as in llama.cpp.
  if (const auto* tokens = file.find_array("tokenizer.ggml.tokens", gguf::ValueType::kString)) {
    if (tokens->items.empty() || tokens->items.size() > kMaxVocab) {
      throw_error(ErrorCode::kCorruptData, "model {}: tokenizer.ggml.tokens holds {} tokens", name,
                  tokens->items.size());
    }
    config.vocab_size = static_cast<int32_t>(tokens->items.size());
  } else {
    config.vocab_size = reader.required_int("vocab_size", kMaxVocab);
  }

  RopeConfig& rope = config.rope;
  rope.ordering = config.arch == Architecture::kLlama ? RopeOrdering::kNormal : RopeOrdering::kNeox;
  rope.n_dims = reader.optional_int("rope.dimension_count", kMaxDim, config.head_dim);
  if (rope.n_dims > config.head_dim || rope.n_dims % 2 != 0) {
    throw_error(ErrorCode::kCorruptData,
                "model {}: rope dimension count {} must be even and at most head dim {}", name,
                rope.n_dims, config.head_dim);
  }
  rope.freq_base = reader.optional_float("rope.freq_base", 10000.0f);
  if (rope.freq_base <= 0.0f) {
    throw_error(ErrorCode::kCorruptData, "model {}: rope.freq_base {} must be positive", name,
                rope.freq_base);
  }
  // Like llama.cpp: the type defaults to linear, and a missing or zero factor
  // means no scaling whatever the type says.
  const std::string scaling = file.find_string(reader.key("rope.scaling.type")).value_or("linear");
  float factor = reader.optional_float("rope.scaling.factor", 0.0f);
  if (factor == 0.0f) factor = reader.optional_float("rope.scale_linear", 0.0f);
  if (factor < 0.0f) {
    throw_error(ErrorCode::kCorruptData, "model {}: rope scaling factor {} is negative", name, factor);
  }
  if (scaling != "none" && scaling != "linear" && scaling != "yarn") {
    throw_error(ErrorCode::kUnsupported, "model {}: rope scaling type '{}' is not supported "
                "(supported: none, linear, yarn; llama3 via rope_freqs.weight)", name, scaling);
  }
  if (scaling == "none" || factor == 0.0f || (factor == 1.0f && scaling == "linear")) {
    rope.scaling = RopeScalingType::kNone;
    rope.factor = 1.0f;
  } else {
    rope.scaling = scaling == "yarn" ? RopeScalingType::kYarn : RopeScalingType::kLinear;
    rope.factor = factor;
  }
  rope.original_context = reader.optional_int("rope.scaling.original_context_length", 1u << 30,
                                               config.context_length);
  rope.attn_factor = reader.optional_float("rope.scaling.attn_factor", 1.0f);
  const float ext_default = rope.scaling == RopeScalingType::kYarn ? 1.0f : 0.0f;
  rope.yarn_ext_factor = reader.optional_float("rope.scaling.yarn_ext_factor", -1.0f);
  if (rope.yarn_ext_factor < 0.0f) rope.yarn_ext_factor = ext_default;
  rope.yarn_beta_fast = reader.optional_float("rope.scaling.yarn_beta_fast", 32.0f);
  rope.yarn_beta_slow = reader.optional_float("rope.scaling.yarn_beta_slow", 1.0f);
  rope.has_freq_factors = file.find_tensor("rope_freqs.weight") != nullptr;
  return config;
}

}  // namespace tether::model
