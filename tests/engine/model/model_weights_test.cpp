#include "engine/model/model_weights.h"

#include <gtest/gtest.h>

#include <functional>

#include "common/error.h"
#include "engine/gguf/gguf_writer.h"
#include "engine/model/llama_model.h"
#include "engine/model/test_models.h"

namespace tether::model {
namespace {

using testing::make_model;
using testing::small_options;

// Copies a generated model into a new GGUF, letting the test change
// metadata and replace tensors on the way (this is how broken files are made).
std::shared_ptr<const gguf::GgufFile> rewrite(
    const gguf::GgufFile& source,
    const std::function<void(gguf::GgufWriter&)>& edit_metadata,
    const std::function<bool(gguf::GgufWriter&, const gguf::TensorInfo&)>& replace_tensor = {}) {
  gguf::GgufWriter writer;
  for (const auto& entry : source.metadata()) {
    if (entry.key != gguf::kAlignmentKey) writer.set(entry.key, entry.value);
  }
  edit_metadata(writer);
  for (const auto& tensor : source.tensors()) {
    if (replace_tensor && replace_tensor(writer, tensor)) continue;
    auto bytes = source.tensor_data(tensor);
    writer.add_tensor(tensor.name, tensor.type, tensor.dims,
                      std::vector<uint8_t>(bytes.begin(), bytes.end()));
  }
  return std::make_shared<const gguf::GgufFile>(
      gguf::GgufFile::from_bytes(writer.write_to_memory(), "edited"));
}

std::string load_error(const std::shared_ptr<const gguf::GgufFile>& file, ErrorCode* code = nullptr) {
  try {
    LlamaModel::load(file);
  } catch (const Error& e) {
    if (code) *code = e.code();
    return e.what();
  }
  return "";
}

TEST(ModelWeights, BindsEveryTensorOfEachArchitecture) {
  for (Architecture arch : {Architecture::kLlama, Architecture::kQwen2, Architecture::kQwen3}) {
    auto file = make_model(small_options(arch, TensorType::kQ4_K));
    const ModelConfig config = ModelConfig::from_gguf(*file);
    EXPECT_EQ(config.arch, arch);
    const ModelWeights weights = ModelWeights::bind(*file, config, /*pack=*/false);
    ASSERT_EQ(weights.layers.size(), 2u);
    EXPECT_FALSE(weights.tied_output);
    EXPECT_EQ(weights.token_embd.type, TensorType::kQ4_K);
    EXPECT_EQ(weights.layers[1].gate.rows, 512);
    EXPECT_EQ(weights.layers[1].gate.cols, 256);
    EXPECT_EQ(weights.layers[0].bq.size(), arch == Architecture::kQwen2 ? 256u : 0u);
    EXPECT_EQ(weights.layers[0].k_norm.size(), arch == Architecture::kQwen3 ? 64u : 0u);
    // Zero copy unpacked: matrices point into the file's bytes.
    const auto bytes = file->tensor_data(*file->find_tensor("blk.1.ffn_down.weight"));
    EXPECT_EQ(weights.layers[1].down.data, bytes.data());
    EXPECT_EQ(config.rope.ordering,
              arch == Architecture::kLlama ? RopeOrdering::kNormal : RopeOrdering::kNeox);
  }
}

TEST(ModelWeights, TiedOutputReusesTheEmbedding) {
  auto options = small_options(Architecture::kQwen2, TensorType::kQ8_0);
  options.shape.tied_output = true;
  auto file = make_model(options);
  const ModelConfig config = ModelConfig::from_gguf(*file);
  const auto unpacked = ModelWeights::bind(*file, config, /*pack=*/false);
  EXPECT_TRUE(unpacked.tied_output);
  EXPECT_EQ(unpacked.output.data, unpacked.token_embd.data);
  // Packed, the output gets its own interleaved copy of the same values,
  // while the embeddings stay in the file's row layout for lookups.
  const auto packed = ModelWeights::bind(*file, config);
  EXPECT_TRUE(packed.tied_output);
  EXPECT_EQ(packed.token_embd.layout, kernels::RowLayout::kRows);
  EXPECT_EQ(packed.output.layout, kernels::RowLayout::kInterleaved8);
  EXPECT_NE(packed.output.data, packed.token_embd.data);
  std::vector<float> a(config.hidden), b(config.hidden);
  for (int64_t r : {int64_t{0}, int64_t{7}, int64_t{8}, int64_t{config.vocab_size} - 1}) {
    kernels::dequantize_matrix_row(packed.output, r, a);
    kernels::dequantize_matrix_row(packed.token_embd, r, b);
    EXPECT_EQ(a, b) << "row " << r;
  }
}

TEST(ModelWeights, PackingInterleavesQ4_0Q8_0Q4_KAndLeavesOtherTypes) {
  for (TensorType type : {TensorType::kQ8_0, TensorType::kQ4_0, TensorType::kQ4_K, TensorType::kF16,
                          TensorType::kQ6_K}) {
    auto file = make_model(small_options(Architecture::kLlama, type));
    const auto weights = ModelWeights::bind(*file, ModelConfig::from_gguf(*file));
    const bool interleaved =
        type == TensorType::kQ8_0 || type == TensorType::kQ4_0 || type == TensorType::kQ4_K;
    const auto& down = weights.layers[0].down;
    EXPECT_EQ(down.layout == kernels::RowLayout::kInterleaved8, interleaved && down.type == type)
        << tensor_type_name(type);
    EXPECT_EQ(weights.packed.empty(), !interleaved) << tensor_type_name(type);
  }
}

TEST(ModelWeights, ShapeDisagreeingWithMetadataIsRejectedNamingTheTensor) {
  auto file = make_model(small_options(Architecture::kLlama, TensorType::kQ8_0));
  auto edited = rewrite(*file, [](gguf::GgufWriter& w) {
    w.set("llama.feed_forward_length", gguf::Value::of_u32(768));
  });
  ErrorCode code{};
  const std::string message = load_error(edited, &code);
  EXPECT_EQ(code, ErrorCode::kCorruptData);
  EXPECT_NE(message.find("'blk.0.ffn_gate.weight' has shape [256, 512], expected [256, 768]"),
            std::string::npos)
      << message;
}

TEST(ModelWeights, MissingTensorIsNamed) {
  auto file = make_model(small_options(Architecture::kQwen3, TensorType::kQ8_0));
  auto edited = rewrite(
      *file, [](gguf::GgufWriter&) {},
      [](gguf::GgufWriter&, const gguf::TensorInfo& t) { return t.name == "blk.1.attn_k_norm.weight"; });
  ErrorCode code{};
  const std::string message = load_error(edited, &code);
  EXPECT_EQ(code, ErrorCode::kNotFound);
  EXPECT_NE(message.find("'blk.1.attn_k_norm.weight' [64] is missing"), std::string::npos) << message;
}

TEST(ModelWeights, UnsupportedTensorTypeIsNamed) {
  auto file = make_model(small_options(Architecture::kLlama, TensorType::kQ8_0));
  auto edited = rewrite(
      *file, [](gguf::GgufWriter&) {},
      [](gguf::GgufWriter& w, const gguf::TensorInfo& t) {
        if (t.name != "blk.0.attn_q.weight") return false;
        // Q5_0: 32 values in 22 bytes; zeros are a valid encoding.
        w.add_tensor(t.name, TensorType::kQ5_0, t.dims,
                     std::vector<uint8_t>(t.dims[1] * (t.dims[0] / 32) * 22, 0));
        return true;
      });
  ErrorCode code{};
  const std::string message = load_error(edited, &code);
  EXPECT_EQ(code, ErrorCode::kUnsupported);
  EXPECT_NE(message.find("'blk.0.attn_q.weight'"), std::string::npos) << message;
  EXPECT_NE(message.find("q5_0"), std::string::npos) << message;
}

TEST(ModelConfig, UnsupportedArchitectureIsNamed) {
  auto file = make_model(small_options(Architecture::kLlama, TensorType::kQ8_0));
  auto edited = rewrite(*file, [](gguf::GgufWriter& w) {
    w.set("general.architecture", gguf::Value::of_string("gpt2"));
  });
  ErrorCode code{};
  const std::string message = load_error(edited, &code);
  EXPECT_EQ(code, ErrorCode::kUnsupported);
  EXPECT_NE(message.find("architecture 'gpt2' is not supported"), std::string::npos) << message;
}

TEST(ModelConfig, ReadsHyperparametersAndRopeScaling) {
  auto options = small_options(Architecture::kQwen2, TensorType::kF32);
  options.rope_scaling.type = "yarn";
  options.rope_scaling.factor = 4.0f;
  options.rope_scaling.original_context = 512;
  auto file = make_model(options);
  const ModelConfig c = ModelConfig::from_gguf(*file);
  EXPECT_EQ(c.hidden, 256);
  EXPECT_EQ(c.n_layers, 2);
  EXPECT_EQ(c.ffn, 512);
  EXPECT_EQ(c.n_heads, 4);
  EXPECT_EQ(c.n_kv_heads, 2);
  EXPECT_EQ(c.head_dim, 64);
  EXPECT_EQ(c.vocab_size, 512);
  EXPECT_EQ(c.context_length, 2048);
  EXPECT_FLOAT_EQ(c.rms_eps, 1e-5f);
  EXPECT_EQ(c.rope.n_dims, 64);
  EXPECT_EQ(c.rope.scaling, RopeScalingType::kYarn);
  EXPECT_FLOAT_EQ(c.rope.factor, 4.0f);
  EXPECT_EQ(c.rope.original_context, 512);
  EXPECT_FLOAT_EQ(c.rope.yarn_ext_factor, 1.0f);
  EXPECT_TRUE(c.has_qkv_bias());
}

TEST(ModelConfig, BadMetadataIsRejected) {
  auto file = make_model(small_options(Architecture::kLlama, TensorType::kQ8_0));
  auto check = [&](const std::function<void(gguf::GgufWriter&)>& edit, const std::string& needle) {
    const std::string message = load_error(rewrite(*file, edit));
    EXPECT_NE(message.find(needle), std::string::npos) << message;
  };
  check([](auto& w) { w.set("llama.attention.head_count_kv", gguf::Value::of_u32(3)); },
        "3 KV heads do not divide 4 query heads");
  check([](auto& w) { w.set("llama.block_count", gguf::Value::of_u32(0)); }, "llama.block_count");
  check([](auto& w) { w.set("llama.rope.scaling.type", gguf::Value::of_string("su")); },
        "rope scaling type 'su'");
  check([](auto& w) { w.set("llama.rope.dimension_count", gguf::Value::of_u32(65)); },
        "rope dimension count 65");
}

}  // namespace
}  // namespace tether::model
