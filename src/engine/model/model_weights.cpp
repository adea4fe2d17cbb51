#include "engine/model/model_weights.h"

#include <string>

#include "common/error.h"
#include "engine/gguf/gguf_file.h"
#include "engine/kernels/quantize.h"

namespace tether::model {
namespace {

std::string dims_text(const std::vector<uint64_t>& dims) {
  std::string text = "[";
  for (size_t i = 0; i < dims.size(); ++i) text += (i ? ", " : "") + std::to_string(dims[i]);
  return text + "]";
}

class Binder {
 public:
  explicit Binder(const gguf::GgufFile& file) : file_(file) {}

  const gguf::TensorInfo* find(const std::string& name) const { return file_.find_tensor(name); }

  const gguf::TensorInfo& require(const std::string& name, const std::vector<uint64_t>& dims) const {
    const gguf::TensorInfo* info = file_.find_tensor(name);
    if (info == nullptr) {
      throw_error(ErrorCode::kNotFound, "model {}: tensor '{}' {} is missing",
                  file_.source_name(), name, dims_text(dims));
    }
    if (info->dims != dims) {
      throw_error(ErrorCode::kCorruptData,
                  "model {}: tensor '{}' has shape {}, expected {} from the model's metadata",
                  file_.source_name(), name, dims_text(info->dims), dims_text(dims));
    }
    return *info;
  }

  // A [rows x cols] matrix (ggml dims {cols, rows}) viewed in place.
  kernels::WeightMatrix matrix(const std::string& name, int64_t rows, int64_t cols) const {
    const gguf::TensorInfo& info =
        require(name, {static_cast<uint64_t>(cols), static_cast<uint64_t>(rows)});
    return view(info);
  }

  kernels::WeightMatrix view(const gguf::TensorInfo& info) const {
    if (!kernels::supports_matmul(info.type) || !kernels::supports_quantization(info.type)) {
      throw_error(ErrorCode::kUnsupported,
                  "model {}: tensor '{}' {} has type {}, which the engine cannot multiply "
                  "(supported: f32, f16, bf16, q8_0, q4_0, q4_K, q6_K)",
                  file_.source_name(), info.name, dims_text(info.dims),
                  tensor_type_name(info.type));
    }
    const auto bytes = file_.tensor_data(info);
    kernels::WeightMatrix w;
    w.type = info.type;
    w.data = bytes.data();
    w.cols = static_cast<int64_t>(info.dims[0]);
    w.rows = static_cast<int64_t>(info.dims[1]);
    w.row_bytes = kernels::row_bytes(info.type, w.cols);
    if (w.row_bytes * static_cast<uint64_t>(w.rows) != bytes.size()) {
      throw_error(ErrorCode::kCorruptData, "model {}: tensor '{}' holds {} bytes, expected {}",
                  file_.source_name(), info.name, bytes.size(), w.row_bytes * w.rows);
    }
    return w;
  }

  // A 1-D vector of `length` values, converted to floats.
  std::vector<float> vector(const std::string& name, int64_t length) const {
    const gguf::TensorInfo& info = require(name, {static_cast<uint64_t>(length)});
    return convert(info);
  }

  std::vector<float> optional_vector(const std::string& name, int64_t length) const {
    if (find(name) == nullptr) return {};
    return vector(name, length);
  }

 private:
  std::vector<float> convert(const gguf::TensorInfo& info) const {
    if (!kernels::supports_quantization(info.type) ||
        info.dims[0] % traits_of(info.type).block_elems != 0) {
      throw_error(ErrorCode::kUnsupported, "model {}: tensor '{}' {} has unsupported type {}",
                  file_.source_name(), info.name, dims_text(info.dims),
                  tensor_type_name(info.type));
    }
    std::vector<float> values(info.dims[0]);
    const auto bytes = file_.tensor_data(info);
    if (bytes.size() != kernels::row_bytes(info.type, static_cast<int64_t>(values.size()))) {
      throw_error(ErrorCode::kCorruptData, "model {}: tensor '{}' holds {} bytes", file_.source_name(),
                  info.name, bytes.size());
    }
    kernels::dequantize_row(info.type, bytes, values);
    return values;
  }

  const gguf::GgufFile& file_;
};

// Repacks `w` in place of its view when a faster layout exists, releasing
// the mapped pages as they are consumed.
void pack_matrix(const gguf::GgufFile& file, kernels::WeightMatrix& w,
                 std::vector<kernels::AlignedBuffer>& storage) {
  const uint8_t* source = w.data;
  kernels::PackedMatrix packed = kernels::pack_for_matmul(w, [&](size_t bytes) {
    file.release_pages({source, bytes});
  });
  if (packed.matrix.layout == w.layout) return;
  w = packed.matrix;
  storage.push_back(std::move(packed.storage));
}

}  // namespace

ModelWeights ModelWeights::bind(const gguf::GgufFile& file, const ModelConfig& config, bool pack) {
  const Binder binder(file);
  const int64_t hidden = config.hidden;
  const int64_t q_dim = config.q_dim();
  const int64_t kv_dim = config.kv_dim();
  const int64_t ffn = config.ffn;
  const int64_t vocab = config.vocab_size;

  ModelWeights weights;
  weights.token_embd = binder.matrix("token_embd.weight", vocab, hidden);
  if (binder.find("output.weight") != nullptr) {
    weights.output = binder.matrix("output.weight", vocab, hidden);
  } else {
    weights.output = weights.token_embd;
    weights.tied_output = true;
  }
  weights.output_norm = binder.vector("output_norm.weight", hidden);
  if (config.rope.has_freq_factors) {
    weights.rope_freqs = binder.vector("rope_freqs.weight", config.rope.n_dims / 2);
    for (float factor : weights.rope_freqs) {
      if (!(factor > 0.0f) || factor > 1e30f) {
        throw_error(ErrorCode::kCorruptData, "model {}: rope_freqs.weight holds factor {}",
                    file.source_name(), factor);
      }
    }
  }

  weights.layers.resize(config.n_layers);
  for (int32_t layer_idx = 0; layer_idx < config.n_layers; ++layer_idx) {
    const std::string prefix = "blk." + std::to_string(layer_idx) + ".";
    LayerWeights& layer = weights.layers[layer_idx];
    layer.attn_norm = binder.vector(prefix + "attn_norm.weight", hidden);
    layer.wq = binder.matrix(prefix + "attn_q.weight", q_dim, hidden);
    layer.wk = binder.matrix(prefix + "attn_k.weight", kv_dim, hidden);
    layer.wv = binder.matrix(prefix + "attn_v.weight", kv_dim, hidden);
    if (config.has_qkv_bias()) {
      layer.bq = binder.vector(prefix + "attn_q.bias", q_dim);
      layer.bk = binder.vector(prefix + "attn_k.bias", kv_dim);
      layer.bv = binder.vector(prefix + "attn_v.bias", kv_dim);
    } else {
      // Llama-family files may carry biases too (llama.cpp loads them if present).
      layer.bq = binder.optional_vector(prefix + "attn_q.bias", q_dim);
      layer.bk = binder.optional_vector(prefix + "attn_k.bias", kv_dim);
      layer.bv = binder.optional_vector(prefix + "attn_v.bias", kv_dim);
    }
    if (config.has_qk_norm()) {
      layer.q_norm = binder.vector(prefix + "attn_q_norm.weight", config.head_dim);
      layer.k_norm = binder.vector(prefix + "attn_k_norm.weight", config.head_dim);
    }
    layer.wo = binder.matrix(prefix + "attn_output.weight", hidden, q_dim);
    layer.ffn_norm = binder.vector(prefix + "ffn_norm.weight", hidden);
    layer.gate = binder.matrix(prefix + "ffn_gate.weight", ffn, hidden);
    layer.up = binder.matrix(prefix + "ffn_up.weight", ffn, hidden);
    layer.down = binder.matrix(prefix + "ffn_down.weight", hidden, ffn);
  }
  if (pack) {
    // Checked and bound first, so a bad file fails before any copying.
    for (LayerWeights& layer : weights.layers) {
      for (kernels::WeightMatrix* m : {&layer.wq, &layer.wk, &layer.wv, &layer.wo, &layer.gate,
                                       &layer.up, &layer.down}) {
        pack_matrix(file, *m, weights.packed);
      }
    }
    pack_matrix(file, weights.output, weights.packed);
  }
  return weights;
}

}  // namespace tether::model
