#include "engine/model/model_shape.h"

#include <gtest/gtest.h>

#include "common/error.h"

namespace tether::model {
namespace {

TEST(ModelShapeTest, PresetsHaveTheDocumentedShapes) {
  ModelShape tiny = model_shape_preset("tiny");
  EXPECT_EQ(tiny.hidden, 256u);
  EXPECT_EQ(tiny.layers, 2u);
  EXPECT_EQ(tiny.heads, 4u);
  EXPECT_EQ(tiny.kv_heads, 2u);
  EXPECT_EQ(tiny.ffn, 768u);
  EXPECT_EQ(tiny.context, 2048u);
  EXPECT_EQ(tiny.head_dim(), 64u);
  EXPECT_EQ(tiny.kv_dim(), 128u);
  EXPECT_FALSE(tiny.tied_output);
  // Every row length is a multiple of 256, so K-quants apply to every matrix.
  EXPECT_EQ(tiny.hidden % 256, 0u);
  EXPECT_EQ(tiny.ffn % 256, 0u);
  EXPECT_NO_THROW(tiny.validate());

  ModelShape half = model_shape_preset("0.5b");
  EXPECT_EQ(half.hidden, 896u);
  EXPECT_EQ(half.layers, 24u);
  EXPECT_EQ(half.heads, 14u);
  EXPECT_EQ(half.kv_heads, 2u);
  EXPECT_EQ(half.ffn, 4864u);
  EXPECT_EQ(half.context, 32768u);
  EXPECT_FLOAT_EQ(half.rope_base, 1e6f);
  EXPECT_EQ(half.head_dim(), 64u);
  EXPECT_TRUE(half.tied_output);
  EXPECT_GE(half.vocab_size, 50000u);
  EXPECT_NO_THROW(half.validate());

  EXPECT_EQ(model_shape_preset_names(), (std::vector<std::string>{"tiny", "0.5b"}));
  EXPECT_THROW(model_shape_preset("7b"), Error);
}

TEST(ModelShapeTest, ImpossibleShapesAreRejectedWithTheirReason) {
  auto expect_invalid = [](auto mutate, std::string_view words) {
    ModelShape shape = model_shape_preset("tiny");
    mutate(shape);
    try {
      shape.validate();
      ADD_FAILURE() << "accepted a shape that should fail with '" << words << "'";
    } catch (const Error& error) {
      EXPECT_EQ(error.code(), ErrorCode::kInvalidArgument);
      EXPECT_NE(std::string(error.what()).find(words), std::string::npos) << error.what();
    }
  };
  expect_invalid([](ModelShape& s) { s.layers = 0; }, "layer count must be positive");
  expect_invalid([](ModelShape& s) { s.hidden = 0; }, "hidden size must be positive");
  expect_invalid([](ModelShape& s) { s.heads = 0; }, "head count must be positive");
  expect_invalid([](ModelShape& s) { s.kv_heads = 0; }, "KV head count must be positive");
  expect_invalid([](ModelShape& s) { s.ffn = 0; }, "feed-forward size must be positive");
  expect_invalid([](ModelShape& s) { s.context = 0; }, "context length must be positive");
  expect_invalid([](ModelShape& s) { s.heads = 3; }, "3 heads do not divide hidden size 256");
  expect_invalid([](ModelShape& s) { s.kv_heads = 3; }, "3 KV heads do not divide 4 query heads");
  expect_invalid([](ModelShape& s) { s.hidden = 12, s.heads = 4, s.kv_heads = 1; }, "must be even");
  expect_invalid([](ModelShape& s) { s.rope_base = 0.0f; }, "rope base");
  expect_invalid([](ModelShape& s) { s.rms_eps = -1.0f; }, "epsilon");
  expect_invalid([](ModelShape& s) { s.hidden = 1u << 20; }, "exceeds the limit");
}

}  // namespace
}  // namespace tether::model
