#include "engine/gguf/gguf_writer.h"

#include <cmath>
#include <fstream>
#include <iterator>
#include <limits>

#include <gtest/gtest.h>

#include "common/error.h"
#include "engine/gguf/gguf_file.h"
#include "test_paths.h"

namespace tether::gguf {
namespace {

std::vector<uint8_t> pattern_bytes(size_t n, uint8_t seed) {
  std::vector<uint8_t> out(n);
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<uint8_t>(seed + i * 7);
  return out;
}

// Every value type, including edge values, nested and empty arrays, empty strings.
std::vector<std::pair<std::string, Value>> every_kind_of_value() {
  Array nested{ValueType::kArray, {}};
  nested.items.push_back(Value::of_i32s({-1, 0, 1}));
  nested.items.push_back(Value::of_array(Array{ValueType::kString, {}}));
  nested.items.push_back(Value::of_strings({"x", ""}));
  Array deep{ValueType::kArray, {Value::of_array(std::move(nested))}};
  return {
      {"u8", Value::of_uint(ValueType::kUint8, 255)},
      {"i8", Value::of_int(ValueType::kInt8, -128)},
      {"u16", Value::of_uint(ValueType::kUint16, 65535)},
      {"i16", Value::of_int(ValueType::kInt16, -32768)},
      {"u32", Value::of_u32(4294967295u)},
      {"i32", Value::of_i32(std::numeric_limits<int32_t>::min())},
      {"u64", Value::of_u64(std::numeric_limits<uint64_t>::max())},
      {"i64", Value::of_int(ValueType::kInt64, std::numeric_limits<int64_t>::min())},
      {"f32", Value::of_f32(0.1f)},
      {"f64", Value::of_float(ValueType::kFloat64, 1e300)},
      {"bool.true", Value::of_bool(true)},
      {"bool.false", Value::of_bool(false)},
      {"s.empty", Value::of_string("")},
      {"s.bytes", Value::of_string(std::string("nul\0inside\xff", 11))},
      {"a.strings", Value::of_strings({"!", "\"", "", "hello"})},
      {"a.f32", Value::of_f32s({1.5f, -0.0f, std::numeric_limits<float>::infinity()})},
      {"a.empty", Value::of_array(Array{ValueType::kUint64, {}})},
      {"a.bools", Value::of_array(Array{ValueType::kBool, {Value::of_bool(true), Value::of_bool(false)}})},
      {"a.deep", Value::of_array(std::move(deep))},
  };
}

TEST(GgufWriterTest, RoundTripsEveryValueTypeAndTensorBytes) {
  for (uint32_t version : {2u, 3u}) {
    GgufWriter writer(version);
    const auto values = every_kind_of_value();
    for (const auto& [key, value] : values) writer.set(key, value);
    writer.add_tensor("tok_embd", TensorType::kF32, {4, 3}, pattern_bytes(48, 1));
    writer.add_tensor("blk.0.q", TensorType::kQ8_0, {64, 2}, pattern_bytes(136, 2));
    writer.add_tensor("norm", TensorType::kF16, {5}, [](std::span<uint8_t> out) {
      for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<uint8_t>(100 + i);
    });
    const auto bytes = writer.write_to_memory();
    const auto file = GgufFile::from_bytes(bytes, "round.gguf");

    EXPECT_EQ(file.version(), version);
    EXPECT_EQ(file.alignment(), 32u);
    EXPECT_EQ(file.find(kAlignmentKey), nullptr);  // only written when not 32
    ASSERT_EQ(file.metadata().size(), values.size());
    for (size_t i = 0; i < values.size(); ++i) {
      SCOPED_TRACE(values[i].first);
      EXPECT_EQ(file.metadata()[i].key, values[i].first);  // insertion order
      EXPECT_EQ(file.metadata()[i].value, values[i].second)
          << file.metadata()[i].value.to_display_string();
    }
    ASSERT_EQ(file.tensors().size(), 3u);
    EXPECT_EQ(file.tensors()[0].name, "tok_embd");
    EXPECT_EQ(file.tensors()[1].dims, (std::vector<uint64_t>{64, 2}));
    EXPECT_EQ(file.tensors()[2].type, TensorType::kF16);
    auto embd = file.tensor_data(file.tensors()[0]);
    EXPECT_EQ(std::vector<uint8_t>(embd.begin(), embd.end()), pattern_bytes(48, 1));
    auto q = file.tensor_data(file.tensors()[1]);
    EXPECT_EQ(std::vector<uint8_t>(q.begin(), q.end()), pattern_bytes(136, 2));
    auto norm = file.tensor_data(file.tensors()[2]);
    ASSERT_EQ(norm.size(), 10u);
    EXPECT_EQ(norm[9], 109);
    for (const auto& tensor : file.tensors()) {
      EXPECT_EQ((file.data_offset() + tensor.offset) % 32, 0u) << tensor.name;
    }
  }
}

TEST(GgufWriterTest, CustomAlignmentIsWrittenAndHonoured) {
  GgufWriter writer(3, 128);
  writer.set("general.name", Value::of_string("aligned"));
  writer.add_tensor("a", TensorType::kF32, {3}, pattern_bytes(12, 3));
  writer.add_tensor("b", TensorType::kI8, {5}, pattern_bytes(5, 4));
  const auto file = GgufFile::from_bytes(writer.write_to_memory());
  EXPECT_EQ(file.alignment(), 128u);
  EXPECT_EQ(file.get_uint(kAlignmentKey), 128u);
  EXPECT_EQ(file.data_offset() % 128, 0u);
  EXPECT_EQ(file.tensors()[1].offset, 128u);
  EXPECT_EQ(file.tensor_data(file.tensors()[1])[4], pattern_bytes(5, 4)[4]);
  EXPECT_THROW(writer.set(std::string(kAlignmentKey), Value::of_u32(64)), Error);
  EXPECT_THROW(GgufWriter(3, 48), Error);
  EXPECT_THROW(GgufWriter(1), Error);
}

TEST(GgufWriterTest, SetReplacesInPlace) {
  GgufWriter writer;
  writer.set("a", Value::of_u32(1));
  writer.set("b", Value::of_u32(2));
  writer.set("a", Value::of_string("again"));
  const auto file = GgufFile::from_bytes(writer.write_to_memory());
  ASSERT_EQ(file.metadata().size(), 2u);
  EXPECT_EQ(file.metadata()[0].key, "a");
  EXPECT_EQ(file.get_string("a"), "again");
}

TEST(GgufWriterTest, RejectsBadTensorsAndValues) {
  GgufWriter writer;
  auto expect_invalid = [](auto&& fn) {
    try {
      fn();
      FAIL() << "no error";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument) << e.what();
    }
  };
  expect_invalid([&] { writer.add_tensor("q", TensorType::kQ4_0, {31}, pattern_bytes(18, 0)); });
  expect_invalid([&] { writer.add_tensor("z", TensorType::kF32, {0}, pattern_bytes(0, 0)); });
  expect_invalid([&] { writer.add_tensor("d", TensorType::kF32, {1, 1, 1, 1, 1}, pattern_bytes(4, 0)); });
  expect_invalid([&] { writer.add_tensor("s", TensorType::kF32, {2}, pattern_bytes(7, 0)); });
  expect_invalid([&] { writer.add_tensor("", TensorType::kF32, {1}, pattern_bytes(4, 0)); });
  expect_invalid([&] { writer.add_tensor(std::string(64, 'n'), TensorType::kF32, {1}, pattern_bytes(4, 0)); });
  writer.add_tensor("ok", TensorType::kF32, {1}, pattern_bytes(4, 0));
  expect_invalid([&] { writer.add_tensor("ok", TensorType::kF32, {1}, pattern_bytes(4, 0)); });
  expect_invalid([&] { writer.set("", Value::of_u32(1)); });
  expect_invalid([&] { writer.set("k", Value::of_uint(ValueType::kUint8, 256)); });
  expect_invalid([&] { writer.set("k", Value{ValueType::kString, uint64_t{1}}); });
  expect_invalid([&] {
    writer.set("k", Value::of_array(Array{ValueType::kString, {Value::of_u32(1)}}));
  });
  // The failed add_tensor calls left nothing behind.
  const auto file = GgufFile::from_bytes(writer.write_to_memory());
  EXPECT_EQ(file.tensors().size(), 1u);
}

TEST(GgufWriterTest, WriteFileIsAtomicAndReadable) {
  const auto dir = tether::testing::make_temp_dir("gguf_writer");
  const auto path = dir / "model.gguf";
  GgufWriter writer;
  writer.set("general.architecture", Value::of_string("llama"));
  writer.add_tensor("w", TensorType::kBF16, {8}, pattern_bytes(16, 9));
  writer.write_file(path);
  writer.write_file(path);  // replaces the existing file
  const auto file = GgufFile::open(path);
  EXPECT_EQ(file.get_string("general.architecture"), "llama");
  EXPECT_EQ(file.tensor_data(file.tensors()[0])[15], pattern_bytes(16, 9)[15]);
  EXPECT_EQ(file.file_size(), writer.write_to_memory().size());
  size_t entries = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(dir)) ++entries;
  EXPECT_EQ(entries, 1u);  // no temporary left behind

  GgufWriter failing;
  failing.add_tensor("boom", TensorType::kF32, {1}, [](std::span<uint8_t>) {
    throw_error(ErrorCode::kIo, "filler failed");
  });
  EXPECT_THROW(failing.write_file(path), Error);
  EXPECT_EQ(GgufFile::open(path).get_string("general.architecture"), "llama");  // untouched
  entries = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(dir)) ++entries;
  EXPECT_EQ(entries, 1u);
  EXPECT_THROW(writer.write_file(dir / "no" / "such" / "dir.gguf"), Error);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace tether::gguf

namespace tether::gguf {
namespace {

// Files written by llama.cpp's tools, re-written by us from what we read,
// come out byte for byte the same: our layout is the standard one.
TEST(GgufWriterTest, RewritesRealVocabFilesByteForByte) {
  TETHER_SKIP_WITHOUT_SHARED_TESTDATA();
  const auto vocab_dir = tether::testing::shared_testdata_dir() / "vocab";
  int compared = 0;
  for (const auto& entry : std::filesystem::directory_iterator(vocab_dir)) {
    if (entry.path().extension() != ".gguf") continue;
    SCOPED_TRACE(entry.path().string());
    const auto original = GgufFile::open(entry.path());
    GgufWriter writer(original.version(), original.alignment());
    for (const auto& kv : original.metadata()) writer.set(kv.key, kv.value);
    for (const auto& tensor : original.tensors()) {
      auto data = original.tensor_data(tensor);
      writer.add_tensor(tensor.name, tensor.type, tensor.dims,
                        std::vector<uint8_t>(data.begin(), data.end()));
    }
    const auto rewritten = writer.write_to_memory();
    std::ifstream in(entry.path(), std::ios::binary);
    std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(rewritten.size(), bytes.size());
    EXPECT_TRUE(rewritten == bytes);
    ++compared;
  }
  EXPECT_GE(compared, 5);
}

}  // namespace
}  // namespace tether::gguf
