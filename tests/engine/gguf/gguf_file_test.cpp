#include "engine/gguf/gguf_file.h"

#include <fstream>

#include <gtest/gtest.h>

#include "common/error.h"
#include "engine/gguf/byte_builder.h"
#include "test_paths.h"

namespace tether::gguf {
namespace {

using testing::ByteBuilder;

// A hand-laid v3 file: every scalar type, a string, a nested array, and two
// tensors (f32 [4,2] and q8_0 [32]) in the data section.
std::vector<uint8_t> hand_made_file() {
  ByteBuilder b;
  b.header(3, 2, 15);
  b.str("u8").u32(0).u8(200);
  b.str("i8").u32(1).u8(0xfe);
  b.str("u16").u32(2).u16(60000);
  b.str("i16").u32(3).u16(0xfffe);
  b.str("u32").u32(4).u32(4000000000u);
  b.str("i32").u32(5).u32(0xfffffff0u);
  b.str("f32").u32(6).f32(1.5f);
  b.str("bool").u32(7).u8(1);
  b.str("general.name").u32(8).str("tiny");
  b.str("u64").u32(10).u64(1ull << 60);
  b.str("i64").u32(11).u64(static_cast<uint64_t>(-5ll));
  b.str("f64").u32(12).f64(-2.25);
  b.str("tokens").u32(9).u32(8).u64(3).str("a").str("").str("\xff\xfe");
  b.str("nested").u32(9).u32(9).u64(2).u32(4).u64(2).u32(7).u32(8).u32(4).u64(0);
  b.str("empty").u32(9).u32(8).u64(0);
  b.str("weight").u32(2).u64(4).u64(2).u32(0).u64(0);
  b.str("quant").u32(1).u64(32).u32(8).u64(64);
  b.pad_to(32);
  for (int i = 0; i < 8; ++i) b.f32(static_cast<float>(i));
  b.zeros(32);  // to offset 64
  for (int i = 0; i < 34; ++i) b.u8(static_cast<uint8_t>(i));
  return b.bytes();
}

TEST(GgufFileTest, ParsesEveryScalarTypeAndArrays) {
  const auto file = GgufFile::from_bytes(hand_made_file(), "hand.gguf");
  EXPECT_EQ(file.version(), 3u);
  EXPECT_EQ(file.alignment(), 32u);
  ASSERT_EQ(file.metadata().size(), 15u);
  EXPECT_EQ(file.find("u8")->type, ValueType::kUint8);
  EXPECT_EQ(file.get_uint("u8"), 200u);
  EXPECT_EQ(file.find("i8")->as_int(), -2);
  EXPECT_EQ(file.get_uint("u16"), 60000u);
  EXPECT_EQ(file.find("i16")->as_int(), -2);
  EXPECT_EQ(file.get_uint("u32"), 4000000000u);
  EXPECT_EQ(file.find("i32")->as_int(), -16);
  EXPECT_EQ(file.find("i32")->as_uint(), std::nullopt);
  EXPECT_EQ(file.get_float("f32"), 1.5);
  EXPECT_EQ(file.find_bool("bool"), true);
  EXPECT_EQ(file.get_string("general.name"), "tiny");
  EXPECT_EQ(file.get_uint("u64"), 1ull << 60);
  EXPECT_EQ(file.find("i64")->as_int(), -5);
  EXPECT_EQ(file.get_float("f64"), -2.25);

  const Array& tokens = file.get_array("tokens", ValueType::kString);
  ASSERT_EQ(tokens.items.size(), 3u);
  EXPECT_EQ(*tokens.items[0].as_string(), "a");
  EXPECT_EQ(*tokens.items[1].as_string(), "");
  EXPECT_EQ(*tokens.items[2].as_string(), "\xff\xfe");  // invalid UTF-8 is kept as bytes

  const Array& nested = file.get_array("nested", ValueType::kArray);
  ASSERT_EQ(nested.items.size(), 2u);
  const Array* inner = nested.items[0].as_array();
  ASSERT_NE(inner, nullptr);
  EXPECT_EQ(inner->element_type, ValueType::kUint32);
  ASSERT_EQ(inner->items.size(), 2u);
  EXPECT_EQ(inner->items[1].as_uint(), 8u);
  EXPECT_TRUE(nested.items[1].as_array()->items.empty());
  EXPECT_TRUE(file.get_array("empty", ValueType::kString).items.empty());

  ASSERT_EQ(file.tensors().size(), 2u);
  const TensorInfo* weight = file.find_tensor("weight");
  ASSERT_NE(weight, nullptr);
  EXPECT_EQ(weight->type, TensorType::kF32);
  EXPECT_EQ(weight->dims, (std::vector<uint64_t>{4, 2}));
  EXPECT_EQ(weight->n_elements, 8u);
  EXPECT_EQ(weight->n_bytes, 32u);
  const TensorInfo* quant = file.find_tensor("quant");
  ASSERT_NE(quant, nullptr);
  EXPECT_EQ(quant->type, TensorType::kQ8_0);
  EXPECT_EQ(quant->n_bytes, 34u);
  EXPECT_EQ(file.data_offset() % 32, 0u);
  auto weight_data = file.tensor_data(*weight);
  ASSERT_EQ(weight_data.size(), 32u);
  float third;
  std::memcpy(&third, weight_data.data() + 8, 4);
  EXPECT_EQ(third, 2.0f);
  auto quant_data = file.tensor_data(*quant);
  ASSERT_EQ(quant_data.size(), 34u);
  EXPECT_EQ(quant_data[33], 33);
  EXPECT_EQ(file.file_size(), file.data_offset() + 64 + 34);
}

TEST(GgufFileTest, TypedLookupsReportMissingAndWrongTypes) {
  const auto file = GgufFile::from_bytes(hand_made_file(), "hand.gguf");
  EXPECT_EQ(file.find("absent"), nullptr);
  EXPECT_EQ(file.find_string("absent"), std::nullopt);
  EXPECT_EQ(file.find_array("absent", ValueType::kString), nullptr);
  try {
    file.get_string("absent");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound);
    EXPECT_NE(std::string(e.what()).find("'absent'"), std::string::npos);
  }
  try {
    file.find_string("u32");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kCorruptData);
    EXPECT_NE(std::string(e.what()).find("'u32' is uint32"), std::string::npos);
  }
  EXPECT_THROW(file.get_array("tokens", ValueType::kInt32), Error);
  EXPECT_THROW(file.find_uint("i32"), Error);  // negative
  EXPECT_THROW(file.find_bool("u8"), Error);
}

TEST(GgufFileTest, ReadsVersion2AndCustomAlignment) {
  ByteBuilder b;
  b.header(2, 1, 1);
  b.str("general.alignment").u32(4).u32(64);
  b.str("t").u32(1).u64(3).u32(0).u64(0);
  b.pad_to(64);
  b.f32(1).f32(2).f32(3);
  const auto file = GgufFile::from_bytes(b.bytes());
  EXPECT_EQ(file.version(), 2u);
  EXPECT_EQ(file.alignment(), 64u);
  EXPECT_EQ(file.data_offset(), 128u);  // 90 bytes of header and infos, padded
  EXPECT_EQ(file.tensor_data(file.tensors()[0]).size(), 12u);
}

TEST(GgufFileTest, OpenMapsAFileAndMovesKeepData) {
  const auto dir = tether::testing::make_temp_dir("gguf_open");
  const auto path = dir / "hand.gguf";
  const auto bytes = hand_made_file();
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()),
                                              static_cast<std::streamsize>(bytes.size()));
  auto file = GgufFile::open(path);
  EXPECT_EQ(file.source_name(), path.string());
  EXPECT_EQ(file.file_size(), bytes.size());
  GgufFile moved = std::move(file);
  EXPECT_EQ(moved.tensor_data(*moved.find_tensor("quant"))[5], 5);
  EXPECT_EQ(moved.get_string("general.name"), "tiny");

  try {
    GgufFile::open(dir / "missing.gguf");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound);
    EXPECT_NE(std::string(e.what()).find("missing.gguf"), std::string::npos);
  }
  EXPECT_THROW(GgufFile::open(dir), Error);  // a directory
  std::filesystem::remove_all(dir);
}

TEST(GgufFileTest, RealVocabFilesParse) {
  TETHER_SKIP_WITHOUT_SHARED_TESTDATA();
  const auto vocab_dir = tether::testing::shared_testdata_dir() / "vocab";
  int parsed = 0;
  for (const auto& entry : std::filesystem::directory_iterator(vocab_dir)) {
    if (entry.path().extension() != ".gguf") continue;
    SCOPED_TRACE(entry.path().string());
    const auto file = GgufFile::open(entry.path());
    EXPECT_GE(file.version(), 2u);
    const Array& tokens = file.get_array("tokenizer.ggml.tokens", ValueType::kString);
    EXPECT_GT(tokens.items.size(), 1000u);
    EXPECT_TRUE(file.find_string("tokenizer.ggml.model").has_value());
    ++parsed;
  }
  EXPECT_GE(parsed, 5);
}

}  // namespace
}  // namespace tether::gguf
