#include "engine/model/model_identity.h"

#include <gtest/gtest.h>

#include <cstring>
#include <functional>

#include "engine/gguf/gguf_file.h"
#include "engine/gguf/gguf_writer.h"
#include "engine/model/test_models.h"

namespace tether::model {
namespace {

using gguf::GgufFile;
using gguf::GgufWriter;
using gguf::Value;

struct Recipe {
  uint32_t alignment = 32;
  uint32_t n_layers = 2;
  std::string name = "identity-test";
  std::string tensor_name = "blk.0.attn_q.weight";
  uint64_t rows = 2;
  float first_weight = 0.5f;
};

ModelIdentity identity_of(const Recipe& recipe) {
  GgufWriter writer(3, recipe.alignment);
  writer.set("general.architecture", Value::of_string("llama"));
  writer.set("general.name", Value::of_string(recipe.name));
  writer.set("llama.block_count", Value::of_u32(recipe.n_layers));
  writer.set("llama.rope.freq_base", Value::of_f32(10000.0f));
  writer.set("tokenizer.ggml.tokens", Value::of_strings({"a", "b", "c"}));
  std::vector<float> weights(4 * recipe.rows, 0.25f);
  weights[0] = recipe.first_weight;
  std::vector<uint8_t> bytes(weights.size() * sizeof(float));
  std::memcpy(bytes.data(), weights.data(), bytes.size());
  writer.add_tensor(recipe.tensor_name, TensorType::kF32, {4, recipe.rows}, bytes);
  writer.add_tensor("output_norm.weight", TensorType::kF32, {4}, std::vector<uint8_t>(16, 0x3f));
  return model_identity(GgufFile::from_bytes(writer.write_to_memory()));
}

TEST(ModelIdentity, IsDeterministicAndPinned) {
  const ModelIdentity a = identity_of({});
  EXPECT_EQ(a, identity_of({}));
  EXPECT_EQ(a.to_hex().size(), 32u);
  // Pinned: a persistent cache written by one build must be found by the next.
  EXPECT_EQ(a.to_hex(), "51cd9ec61fd0886d588edbd6c5c76eec");
}

TEST(ModelIdentity, ChangesWithEverythingThatShapesTheKv) {
  const ModelIdentity base = identity_of({});
  const std::vector<std::pair<const char*, std::function<void(Recipe&)>>> edits = {
      {"a hyperparameter", [](Recipe& r) { r.n_layers = 3; }},
      {"a descriptive key", [](Recipe& r) { r.name = "identity-test2"; }},
      {"a tensor name", [](Recipe& r) { r.tensor_name = "blk.0.attn_k.weight"; }},
      {"a tensor's dims", [](Recipe& r) { r.rows = 3; }},
      {"one weight", [](Recipe& r) { r.first_weight = 0.5000001f; }},
  };
  for (const auto& [what, edit] : edits) {
    Recipe recipe;
    edit(recipe);
    EXPECT_NE(identity_of(recipe), base) << what;
  }
}

TEST(ModelIdentity, IgnoresTheLayoutOfTheSameTensors) {
  Recipe wide;
  wide.alignment = 64;
  EXPECT_EQ(identity_of(wide), identity_of({}));
}

TEST(ModelIdentity, SeparatesGeneratedModels) {
  using testing::make_model;
  using testing::small_options;
  const auto a = make_model(small_options(Architecture::kLlama, TensorType::kQ8_0, 1));
  const auto a2 = make_model(small_options(Architecture::kLlama, TensorType::kQ8_0, 1));
  const auto b = make_model(small_options(Architecture::kLlama, TensorType::kQ8_0, 2));
  const auto c = make_model(small_options(Architecture::kLlama, TensorType::kF16, 1));
  EXPECT_EQ(model_identity(*a), model_identity(*a2));
  EXPECT_NE(model_identity(*a), model_identity(*b));
  EXPECT_NE(model_identity(*a), model_identity(*c));
}

}  // namespace
}  // namespace tether::model
