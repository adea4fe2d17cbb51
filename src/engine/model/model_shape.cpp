#include "engine/model/model_shape.h"

#include <cmath>

#include "common/error.h"

namespace tether::model {
namespace {

struct Preset {
  std::string_view name;
  ModelShape shape;
};

ModelShape tiny_shape() {
  ModelShape shape;
  shape.hidden = 256;
  shape.layers = 2;
  shape.heads = 4;
  shape.kv_heads = 2;
  shape.ffn = 768;
  shape.context = 2048;
  shape.rope_base = 10000.0f;
  shape.rms_eps = 1e-5f;
  shape.tied_output = false;
  shape.vocab_size = 4096;
  return shape;
}

ModelShape half_b_shape() {
  ModelShape shape;
  shape.hidden = 896;
  shape.layers = 24;
  shape.heads = 14;
  shape.kv_heads = 2;
  shape.ffn = 4864;
  shape.context = 32768;
  shape.rope_base = 1000000.0f;
  shape.rms_eps = 1e-6f;
  shape.tied_output = true;
  shape.vocab_size = 51200;
  return shape;
}

const std::vector<Preset>& presets() {
  static const std::vector<Preset> list = {{"tiny", tiny_shape()}, {"0.5b", half_b_shape()}};
  return list;
}

}  // namespace

void ModelShape::validate() const {
  auto require_positive = [](uint32_t value, std::string_view field) {
    if (value == 0) throw_error(ErrorCode::kInvalidArgument, "model shape: {} must be positive", field);
  };
  require_positive(hidden, "hidden size");
  require_positive(layers, "layer count");
  require_positive(heads, "head count");
  require_positive(kv_heads, "KV head count");
  require_positive(ffn, "feed-forward size");
  require_positive(context, "context length");
  // Bounds far above any real model's, to turn typos into errors rather than
  // attempts to write terabytes.
  auto require_at_most = [](uint64_t value, uint64_t limit, std::string_view field) {
    if (value > limit) {
      throw_error(ErrorCode::kInvalidArgument, "model shape: {} {} exceeds the limit of {}", field,
                  value, limit);
    }
  };
  require_at_most(hidden, 1u << 16, "hidden size");
  require_at_most(layers, 1u << 10, "layer count");
  require_at_most(ffn, 1u << 18, "feed-forward size");
  require_at_most(context, 1u << 24, "context length");
  require_at_most(vocab_size, 1u << 22, "vocabulary size");
  if (hidden % heads != 0) {
    throw_error(ErrorCode::kInvalidArgument,
                "model shape: {} heads do not divide hidden size {}", heads, hidden);
  }
  if (heads % kv_heads != 0) {
    throw_error(ErrorCode::kInvalidArgument,
                "model shape: {} KV heads do not divide {} query heads", kv_heads, heads);
  }
  if (head_dim() % 2 != 0) {
    throw_error(ErrorCode::kInvalidArgument,
                "model shape: head size {} (hidden {} / {} heads) must be even for RoPE",
                head_dim(), hidden, heads);
  }
  if (!std::isfinite(rope_base) || rope_base <= 0.0f) {
    throw_error(ErrorCode::kInvalidArgument, "model shape: rope base {} must be positive",
                rope_base);
  }
  if (!std::isfinite(rms_eps) || rms_eps <= 0.0f) {
    throw_error(ErrorCode::kInvalidArgument, "model shape: RMS norm epsilon {} must be positive",
                rms_eps);
  }
}

ModelShape model_shape_preset(std::string_view name) {
  for (const auto& preset : presets()) {
    if (preset.name == name) return preset.shape;
  }
  std::string known;
  for (const auto& preset_name : model_shape_preset_names()) {
    known += (known.empty() ? "" : ", ") + preset_name;
  }
  throw_error(ErrorCode::kInvalidArgument, "unknown model preset '{}' (known: {})", name, known);
}

std::vector<std::string> model_shape_preset_names() {
  std::vector<std::string> names;
  for (const auto& preset : presets()) names.emplace_back(preset.name);
  return names;
}

}  // namespace tether::model
