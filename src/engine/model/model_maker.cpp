#include "engine/model/model_maker.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <thread>

#include "common/error.h"
#include "engine/gguf/gguf_file.h"
#include "engine/kernels/quantize.h"
#include "engine/model/seeded_weights.h"
#include "engine/tokenizer/builtin_vocab.h"

namespace tether::model {
namespace {

struct WritableType {
  TensorType type;
  uint32_t llama_ftype;
};

// Q4_K maps to MOSTLY_Q4_K_S, not _M: every K-quantable matrix is Q4_K here,
// while llama.cpp's Q4_K_M mix would put Q6_K on attn_v, ffn_down and output.
constexpr WritableType kWritableTypes[] = {
    {TensorType::kF32, 0},  {TensorType::kF16, 1},   {TensorType::kQ4_0, 2},
    {TensorType::kQ8_0, 7}, {TensorType::kQ4_K, 14}, {TensorType::kQ6_K, 18},
    {TensorType::kBF16, 32},
};

// The type a matrix with rows of `row_length` gets, in the spirit of
// llama.cpp's quantizer: a K-quant falls back to the 32-block type of about
// the same precision, and anything that still does not fit becomes F16.
TensorType storage_type_for(TensorType requested, uint64_t row_length) {
  auto fits = [row_length](TensorType type) {
    return row_length % traits_of(type).block_elems == 0;
  };
  if (fits(requested)) return requested;
  TensorType fallback = requested;
  if (requested == TensorType::kQ4_K) fallback = TensorType::kQ4_0;
  if (requested == TensorType::kQ6_K) fallback = TensorType::kQ8_0;
  if (fits(fallback)) return fallback;
  return TensorType::kF16;
}

// Generates and encodes all rows of `tensor` into `out`. Rows are split into
// contiguous chunks, one thread each; every row's values come from its own
// stream, so the bytes do not depend on the thread count.
void generate_tensor(const PlannedTensor& tensor, uint64_t seed, unsigned threads,
                     std::span<uint8_t> out) {
  const uint64_t row_length = tensor.dims[0];
  const uint64_t n_rows = tensor.n_elements / row_length;
  const size_t bytes_per_row = kernels::row_bytes(tensor.type, static_cast<int64_t>(row_length));
  if (out.size() != bytes_per_row * n_rows) {
    throw_error(ErrorCode::kInternal, "tensor {}: writer gave {} bytes, expected {}", tensor.name,
                out.size(), bytes_per_row * n_rows);
  }
  const SeededWeights weights(seed, tensor.name);
  auto fill_rows = [&](uint64_t first_row, uint64_t end_row) {
    std::vector<float> values(row_length);
    for (uint64_t row_idx = first_row; row_idx < end_row; ++row_idx) {
      weights.fill_row(row_idx, tensor.mean, tensor.std_dev, values);
      kernels::quantize_row(tensor.type, values, out.subspan(row_idx * bytes_per_row, bytes_per_row));
    }
  };

  // Threads pay off only for tensors of a few hundred thousand values or more.
  constexpr uint64_t kElementsPerThread = 1 << 18;
  uint64_t useful = std::max<uint64_t>(1, tensor.n_elements / kElementsPerThread);
  unsigned n_threads = static_cast<unsigned>(std::min<uint64_t>({threads, useful, n_rows}));
  if (n_threads <= 1) {
    fill_rows(0, n_rows);
    return;
  }
  std::vector<std::thread> workers;
  std::vector<std::exception_ptr> errors(n_threads);
  for (unsigned t = 0; t < n_threads; ++t) {
    uint64_t first = n_rows * t / n_threads;
    uint64_t end = n_rows * (t + 1) / n_threads;
    workers.emplace_back([&, t, first, end] {
      try {
        fill_rows(first, end);
      } catch (...) {
        errors[t] = std::current_exception();
      }
    });
  }
  for (auto& worker : workers) worker.join();
  for (auto& error : errors) {
    if (error) std::rethrow_exception(error);
  }
}

}  // namespace

uint32_t llama_file_type_of(TensorType type) {
  for (const auto& writable : kWritableTypes) {
    if (writable.type == type) return writable.llama_ftype;
  }
  throw_error(ErrorCode::kInvalidArgument, "make-model cannot write tensors of type {} (use one of {})",
              tensor_type_name(type), writable_matrix_types());
}

std::string writable_matrix_types() {
  std::string names;
  for (const auto& writable : kWritableTypes) {
    if (!names.empty()) names += ", ";
    names += tensor_type_name(writable.type);
  }
  return names;
}

ModelMaker::ModelMaker(MakeModelOptions options) : options_(std::move(options)) {
  options_.shape.validate();
  const RopeScalingOptions& scaling = options_.rope_scaling;
  if (scaling.type != "none" && scaling.type != "linear" && scaling.type != "yarn" &&
      scaling.type != "llama3") {
    throw_error(ErrorCode::kInvalidArgument,
                "unknown rope scaling type '{}' (use none, linear, yarn or llama3)", scaling.type);
  }
  if (scaling.type != "none" && (!std::isfinite(scaling.factor) || scaling.factor < 1.0f)) {
    throw_error(ErrorCode::kInvalidArgument, "rope scaling factor {} must be at least 1",
                scaling.factor);
  }
  file_type_ = llama_file_type_of(options_.type);
  if (options_.threads == 0) options_.threads = std::max(1u, std::thread::hardware_concurrency());

  // The vocabulary comes first: its size shapes token_embd and output.
  if (options_.vocab_path.empty()) {
    add_builtin_vocab();
  } else {
    add_vocab_from_file();
  }
  options_.shape.vocab_size = vocab_size_;  // a --vocab file's size wins
  plan_tensors();
}

void ModelMaker::add_metadata() {
  const ModelShape& shape = options_.shape;
  std::string name = options_.name;
  if (name.empty()) {
    name = fmt::format("tether-random-{}x{}-seed{}", shape.layers, shape.hidden, options_.seed);
  }
  const std::string arch(architecture_name(options_.arch));
  auto key = [&arch](std::string_view name) { return arch + "." + std::string(name); };
  writer_.set("general.architecture", gguf::Value::of_string(arch));
  writer_.set("general.name", gguf::Value::of_string(name));
  writer_.set("general.file_type", gguf::Value::of_u32(file_type_));
  writer_.set("general.quantization_version", gguf::Value::of_u32(2));
  writer_.set(key("vocab_size"), gguf::Value::of_u32(vocab_size_));
  writer_.set(key("context_length"), gguf::Value::of_u32(shape.context));
  writer_.set(key("embedding_length"), gguf::Value::of_u32(shape.hidden));
  writer_.set(key("block_count"), gguf::Value::of_u32(shape.layers));
  writer_.set(key("feed_forward_length"), gguf::Value::of_u32(shape.ffn));
  writer_.set(key("attention.head_count"), gguf::Value::of_u32(shape.heads));
  writer_.set(key("attention.head_count_kv"), gguf::Value::of_u32(shape.kv_heads));
  writer_.set(key("attention.layer_norm_rms_epsilon"), gguf::Value::of_f32(shape.rms_eps));
  writer_.set(key("rope.freq_base"), gguf::Value::of_f32(shape.rope_base));
  writer_.set(key("rope.dimension_count"), gguf::Value::of_u32(shape.head_dim()));
  add_rope_scaling_metadata();
}

void ModelMaker::add_rope_scaling_metadata() {
  const RopeScalingOptions& scaling = options_.rope_scaling;
  if (scaling.type == "none") return;
  const std::string arch(architecture_name(options_.arch));
  const uint32_t original =
      scaling.original_context != 0 ? scaling.original_context : options_.shape.context;
  if (scaling.type == "llama3") {
    // llama.cpp records llama3 scaling only through the rope_freqs tensor.
    return;
  }
  writer_.set(arch + ".rope.scaling.type", gguf::Value::of_string(scaling.type));
  writer_.set(arch + ".rope.scaling.factor", gguf::Value::of_f32(scaling.factor));
  writer_.set(arch + ".rope.scaling.original_context_length", gguf::Value::of_u32(original));
}

void ModelMaker::add_builtin_vocab() {
  tokenizer::BuiltinVocab vocab = tokenizer::build_builtin_vocab(options_.shape.vocab_size);
  vocab_size_ = static_cast<uint32_t>(vocab.size());
  vocab_description_ = fmt::format("built-in byte-level BPE: {} learned tokens, {} reserved",
                                   vocab.learned_tokens, vocab.reserved_tokens);
  add_metadata();
  writer_.set("tokenizer.ggml.model", gguf::Value::of_string("gpt2"));
  writer_.set("tokenizer.ggml.pre",
              gguf::Value::of_string(std::string(tokenizer::kBuiltinVocabPreTokenizer)));
  writer_.set("tokenizer.ggml.tokens", gguf::Value::of_strings(vocab.tokens));
  writer_.set("tokenizer.ggml.token_type", gguf::Value::of_i32s(vocab.token_types));
  writer_.set("tokenizer.ggml.merges", gguf::Value::of_strings(vocab.merges));
  // As Qwen2.5's instruct models: <|endoftext|> begins and pads, <|im_end|>
  // ends a turn (and so generation); ChatML adds no BOS.
  writer_.set("tokenizer.ggml.bos_token_id", gguf::Value::of_u32(vocab.endoftext_id));
  writer_.set("tokenizer.ggml.eos_token_id", gguf::Value::of_u32(vocab.im_end_id));
  writer_.set("tokenizer.ggml.eot_token_id", gguf::Value::of_u32(vocab.im_end_id));
  writer_.set("tokenizer.ggml.padding_token_id", gguf::Value::of_u32(vocab.endoftext_id));
  writer_.set("tokenizer.ggml.add_bos_token", gguf::Value::of_bool(false));
  writer_.set("tokenizer.ggml.add_eos_token", gguf::Value::of_bool(false));
  writer_.set("tokenizer.chat_template",
              gguf::Value::of_string(std::string(tokenizer::chatml_chat_template())));
}

void ModelMaker::add_vocab_from_file() {
  const auto file = gguf::GgufFile::open(options_.vocab_path);
  const auto& tokens = file.get_array("tokenizer.ggml.tokens", gguf::ValueType::kString);
  if (tokens.items.empty() || tokens.items.size() > (uint64_t{1} << 31) - 1) {
    throw_error(ErrorCode::kInvalidArgument, "{}: tokenizer.ggml.tokens holds {} tokens",
                file.source_name(), tokens.items.size());
  }
  vocab_size_ = static_cast<uint32_t>(tokens.items.size());
  vocab_description_ = "tokenizer of " + options_.vocab_path.filename().string();
  add_metadata();
  bool has_template = false;
  for (const auto& entry : file.metadata()) {
    if (!entry.key.starts_with("tokenizer.")) continue;
    writer_.set(entry.key, entry.value);
    has_template = has_template || entry.key == "tokenizer.chat_template";
  }
  // ChatML only makes sense where its markers are tokens of the vocabulary.
  bool has_im_start = false, has_im_end = false;
  for (const auto& token : tokens.items) {
    if (const std::string* text = token.as_string()) {
      has_im_start = has_im_start || *text == "<|im_start|>";
      has_im_end = has_im_end || *text == "<|im_end|>";
    }
  }
  if (!has_template && has_im_start && has_im_end) {
    writer_.set("tokenizer.chat_template",
                gguf::Value::of_string(std::string(tokenizer::chatml_chat_template())));
  }
}

void ModelMaker::plan_tensors() {
  const ModelShape& shape = options_.shape;
  const uint64_t hidden = shape.hidden;
  const uint64_t kv_dim = shape.kv_dim();
  const uint64_t ffn = shape.ffn;
  // Scales keep activations of order one through every layer: projections
  // get 1/sqrt(fan_in), and the two that add into the residual stream are
  // further scaled by 1/sqrt(2 * layers) (GPT-2's residual scaling), so the
  // stream grows like sqrt(layers), not exponentially.
  const float in_hidden = 1.0f / std::sqrt(static_cast<float>(hidden));
  const float in_ffn = 1.0f / std::sqrt(static_cast<float>(ffn));
  const float residual = 1.0f / std::sqrt(2.0f * static_cast<float>(shape.layers));
  constexpr float kNormNoise = 0.02f;
  constexpr float kBiasStd = 0.1f;
  const uint64_t head_dim = shape.head_dim();

  if (options_.rope_scaling.type == "llama3") plan_rope_freqs();

  plan_tensor("token_embd.weight", {hidden, vocab_size_}, 0.0f, in_hidden, true);
  for (uint32_t layer_idx = 0; layer_idx < shape.layers; ++layer_idx) {
    const std::string prefix = fmt::format("blk.{}.", layer_idx);
    plan_tensor(prefix + "attn_norm.weight", {hidden}, 1.0f, kNormNoise, false);
    plan_tensor(prefix + "attn_q.weight", {hidden, hidden}, 0.0f, in_hidden, true);
    plan_tensor(prefix + "attn_k.weight", {hidden, kv_dim}, 0.0f, in_hidden, true);
    plan_tensor(prefix + "attn_v.weight", {hidden, kv_dim}, 0.0f, in_hidden, true);
    if (options_.arch == Architecture::kQwen2) {
      plan_tensor(prefix + "attn_q.bias", {hidden}, 0.0f, kBiasStd, false);
      plan_tensor(prefix + "attn_k.bias", {kv_dim}, 0.0f, kBiasStd, false);
      plan_tensor(prefix + "attn_v.bias", {kv_dim}, 0.0f, kBiasStd, false);
    }
    if (options_.arch == Architecture::kQwen3) {
      plan_tensor(prefix + "attn_q_norm.weight", {head_dim}, 1.0f, kNormNoise, false);
      plan_tensor(prefix + "attn_k_norm.weight", {head_dim}, 1.0f, kNormNoise, false);
    }
    plan_tensor(prefix + "attn_output.weight", {hidden, hidden}, 0.0f, in_hidden * residual, true);
    plan_tensor(prefix + "ffn_norm.weight", {hidden}, 1.0f, kNormNoise, false);
    plan_tensor(prefix + "ffn_gate.weight", {hidden, ffn}, 0.0f, in_hidden, true);
    plan_tensor(prefix + "ffn_up.weight", {hidden, ffn}, 0.0f, in_hidden, true);
    plan_tensor(prefix + "ffn_down.weight", {ffn, hidden}, 0.0f, in_ffn * residual, true);
  }
  plan_tensor("output_norm.weight", {hidden}, 1.0f, kNormNoise, false);
  if (!shape.tied_output) plan_tensor("output.weight", {hidden, vocab_size_}, 0.0f, in_hidden, true);
}

void ModelMaker::plan_rope_freqs() {
  // Llama 3.1's frequency-dependent scaling as its converter bakes it into
  // rope_freqs.weight: long wavelengths are divided by the factor, short ones
  // kept, and the band between blended smoothly.
  const RopeScalingOptions& scaling = options_.rope_scaling;
  const ModelShape& shape = options_.shape;
  const uint32_t n_pairs = shape.head_dim() / 2;
  const double original =
      scaling.original_context != 0 ? scaling.original_context : shape.context;
  std::vector<float> factors(n_pairs);
  for (uint32_t i = 0; i < n_pairs; ++i) {
    const double freq = std::pow(static_cast<double>(shape.rope_base), -2.0 * i / shape.head_dim());
    const double wavelength = 2.0 * M_PI / freq;
    const double low_wavelength = original / scaling.llama3_low_freq_factor;
    const double high_wavelength = original / scaling.llama3_high_freq_factor;
    double factor = 1.0;
    if (wavelength > low_wavelength) {
      factor = scaling.factor;
    } else if (wavelength >= high_wavelength) {
      const double smooth = (original / wavelength - scaling.llama3_low_freq_factor) /
                            (scaling.llama3_high_freq_factor - scaling.llama3_low_freq_factor);
      factor = 1.0 / ((1.0 - smooth) / scaling.factor + smooth);
    }
    factors[i] = static_cast<float>(factor);
  }
  std::vector<uint8_t> bytes(factors.size() * sizeof(float));
  std::memcpy(bytes.data(), factors.data(), bytes.size());
  writer_.add_tensor("rope_freqs.weight", TensorType::kF32, {n_pairs}, std::move(bytes));
  PlannedTensor tensor;
  tensor.name = "rope_freqs.weight";
  tensor.type = TensorType::kF32;
  tensor.dims = {n_pairs};
  tensor.n_elements = n_pairs;
  tensor.n_bytes = n_pairs * sizeof(float);
  n_params_ += tensor.n_elements;
  n_tensor_bytes_ += tensor.n_bytes;
  tensors_.push_back(std::move(tensor));
}

void ModelMaker::plan_tensor(std::string name, std::vector<uint64_t> dims, float mean,
                             float std_dev, bool is_matrix) {
  PlannedTensor tensor;
  tensor.type = is_matrix ? storage_type_for(options_.type, dims[0]) : TensorType::kF32;
  if (is_matrix && tensor.type != options_.type) {
    fallbacks_.push_back({name, options_.type, tensor.type, dims[0]});
  }
  tensor.name = std::move(name);
  tensor.dims = std::move(dims);
  tensor.mean = mean;
  tensor.std_dev = std_dev;
  tensor.n_elements = 1;
  for (uint64_t dim : tensor.dims) tensor.n_elements *= dim;
  tensor.n_bytes = kernels::row_bytes(tensor.type, static_cast<int64_t>(tensor.dims[0])) *
                   (tensor.n_elements / tensor.dims[0]);
  n_params_ += tensor.n_elements;
  n_tensor_bytes_ += tensor.n_bytes;

  const uint64_t seed = options_.seed;
  const unsigned threads = options_.threads;
  writer_.add_tensor(tensor.name, tensor.type, tensor.dims,
                     [tensor, seed, threads](std::span<uint8_t> out) {
                       generate_tensor(tensor, seed, threads, out);
                     });
  tensors_.push_back(std::move(tensor));
}

std::string ModelMaker::fallback_summary() const {
  if (fallbacks_.empty()) return {};
  // Group by (used type, row length) so a 24-layer model gives one short line.
  std::map<std::pair<std::string, uint64_t>, size_t> groups;
  for (const auto& fallback : fallbacks_) {
    ++groups[{std::string(tensor_type_name(fallback.used)), fallback.row_length}];
  }
  size_t n_matrices = 0;
  for (const auto& tensor : tensors_) n_matrices += tensor.dims.size() == 2 ? 1 : 0;
  std::string text = fmt::format("{} of {} matrices stored in another type than {} (rows not a "
                                 "multiple of its {}-value blocks):",
                                 fallbacks_.size(), n_matrices, tensor_type_name(options_.type),
                                 traits_of(options_.type).block_elems);
  bool first = true;
  for (const auto& [key, count] : groups) {
    text += fmt::format("{} {} with rows of {} as {}", first ? "" : ",", count, key.second, key.first);
    first = false;
  }
  return text;
}

}  // namespace tether::model
