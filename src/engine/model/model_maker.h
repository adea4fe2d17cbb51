#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "engine/gguf/gguf_writer.h"
#include "engine/model/model_config.h"
#include "engine/model/model_shape.h"
#include "engine/tensor_type.h"

namespace tether::model {

// RoPE scaling metadata to record (and, for llama3, the rope_freqs.weight
// tensor llama.cpp's converter writes for Llama 3.1+ models).
struct RopeScalingOptions {
  std::string type = "none";  // none, linear, yarn or llama3
  float factor = 1.0f;
  uint32_t original_context = 0;  // 0: the shape's context length
  float llama3_low_freq_factor = 1.0f;
  float llama3_high_freq_factor = 4.0f;
};

struct MakeModelOptions {
  ModelShape shape;                  // validated by ModelMaker
  Architecture arch = Architecture::kLlama;  // qwen2 adds Q/K/V biases, qwen3 Q/K norms
  RopeScalingOptions rope_scaling;
  TensorType type = TensorType::kQ8_0;  // of the 2-D weight matrices; norms stay F32
  uint64_t seed = 1;
  // A GGUF whose tokenizer.* keys are copied; empty: the built-in vocabulary
  // with shape.vocab_size tokens.
  std::filesystem::path vocab_path;
  std::string name;      // general.name; empty: derived from the shape and seed
  unsigned threads = 0;  // for generating rows; 0: hardware concurrency
};

// A tensor stored in another type than asked, because its rows do not split
// into the asked type's blocks (K-quants need rows that are multiples of 256).
struct TypeFallback {
  std::string tensor_name;
  TensorType requested;
  TensorType used;
  uint64_t row_length;
};

// One tensor of the file and how its values are drawn: normal(mean, std_dev).
struct PlannedTensor {
  std::string name;
  TensorType type;
  std::vector<uint64_t> dims;  // ggml order: dims[0] = row length = input features
  float mean = 0.0f;
  float std_dev = 0.0f;
  uint64_t n_elements = 0;
  uint64_t n_bytes = 0;
};

// Plans a llama / qwen2 / qwen3 GGUF with seeded random weights (standard keys,
// tensor names and layouts, so llama.cpp loads it) and writes it tensor by
// tensor: a 0.5b model never sits in memory whole. The same options give a
// byte-identical file whatever the thread count.
class ModelMaker {
 public:
  // Throws Error(kInvalidArgument) for an impossible shape or unsupported
  // type, and the reader's errors for a bad --vocab file.
  explicit ModelMaker(MakeModelOptions options);

  const MakeModelOptions& options() const { return options_; }
  const std::vector<PlannedTensor>& tensors() const { return tensors_; }
  const std::vector<TypeFallback>& fallbacks() const { return fallbacks_; }
  uint64_t n_params() const { return n_params_; }
  uint64_t n_tensor_bytes() const { return n_tensor_bytes_; }
  uint32_t vocab_size() const { return vocab_size_; }
  uint32_t file_type() const { return file_type_; }  // llama_ftype, as in general.file_type
  // Where the tokenizer came from, for the summary line.
  const std::string& vocab_description() const { return vocab_description_; }
  // A one-line account of the fallbacks ("" when none), for logs.
  std::string fallback_summary() const;

  void write_file(const std::filesystem::path& path) const { writer_.write_file(path); }
  std::vector<uint8_t> write_to_memory() const { return writer_.write_to_memory(); }

 private:
  void add_metadata();
  void add_rope_scaling_metadata();
  void add_builtin_vocab();
  void add_vocab_from_file();
  void plan_tensors();
  void plan_rope_freqs();
  void plan_tensor(std::string name, std::vector<uint64_t> dims, float mean, float std_dev,
                   bool is_matrix);

  MakeModelOptions options_;
  gguf::GgufWriter writer_;
  std::vector<PlannedTensor> tensors_;
  std::vector<TypeFallback> fallbacks_;
  uint64_t n_params_ = 0;
  uint64_t n_tensor_bytes_ = 0;
  uint32_t vocab_size_ = 0;
  uint32_t file_type_ = 0;
  std::string vocab_description_;
};

// llama_ftype for a file whose matrices are `type`: ALL_F32 0, MOSTLY_F16 1,
// MOSTLY_Q4_0 2, MOSTLY_Q8_0 7, MOSTLY_Q4_K_S 14, MOSTLY_Q6_K 18, MOSTLY_BF16 32.
// Error(kInvalidArgument) for a type make-model does not write.
uint32_t llama_file_type_of(TensorType type);

// The matrix types make-model writes, for help texts and errors.
std::string writable_matrix_types();

}  // namespace tether::model
