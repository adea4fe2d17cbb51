// Corrupt and hostile GGUF files: each must fail with a one-line
// tether::Error naming the field, never crash, hang or allocate past the file.
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <new>

#include <gtest/gtest.h>

#include "common/error.h"
#include "engine/gguf/byte_builder.h"
#include "engine/gguf/gguf_file.h"
#include "engine/gguf/gguf_writer.h"

// Largest single allocation while a test watches; lets the tests below prove
// that absurd counts are refused before anything is reserved.
namespace {
std::atomic<bool> g_watch_allocations{false};
std::atomic<size_t> g_largest_allocation{0};

void* counted_alloc(size_t n) {
  if (g_watch_allocations.load(std::memory_order_relaxed)) {
    size_t seen = g_largest_allocation.load(std::memory_order_relaxed);
    while (n > seen && !g_largest_allocation.compare_exchange_weak(seen, n)) {
    }
  }
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
}  // namespace

void* operator new(size_t n) { return counted_alloc(n); }
void* operator new[](size_t n) { return counted_alloc(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
void operator delete[](void* p, size_t) noexcept { std::free(p); }

namespace tether::gguf {
namespace {

using testing::ByteBuilder;

// A valid file with several value types, a nested array and tensors of
// different types, made by the writer.
std::vector<uint8_t> valid_file() {
  GgufWriter writer;
  writer.set("general.architecture", Value::of_string("llama"));
  writer.set("llama.context_length", Value::of_u32(128));
  writer.set("llama.rope.freq_base", Value::of_f32(10000.0f));
  writer.set("tokenizer.ggml.add_bos_token", Value::of_bool(true));
  writer.set("tokenizer.ggml.tokens", Value::of_strings({"<s>", "</s>", "a", "bc"}));
  writer.set("tokenizer.ggml.scores", Value::of_f32s({0.0f, -1.0f, -2.5f, -3.0f}));
  Array nested{ValueType::kArray, {Value::of_i32s({1, -2}), Value::of_i32s({})}};
  writer.set("test.nested", Value::of_array(std::move(nested)));
  writer.set("test.i64", Value::of_int(ValueType::kInt64, -7));
  std::vector<uint8_t> f32_bytes(4 * 2 * 4, 0x3f);
  writer.add_tensor("token_embd.weight", TensorType::kF32, {4, 2}, f32_bytes);
  writer.add_tensor("blk.0.attn_q.weight", TensorType::kQ8_0, {32, 2}, std::vector<uint8_t>(68, 1));
  writer.add_tensor("output_norm.weight", TensorType::kF16, {4}, std::vector<uint8_t>(8, 2));
  return writer.write_to_memory();
}

// Parses `bytes` and checks the error's code and that its message holds each
// of `fragments` (the field, the problem).
void expect_error(std::vector<uint8_t> bytes, ErrorCode code,
                  std::initializer_list<std::string_view> fragments) {
  try {
    GgufFile::from_bytes(std::move(bytes), "bad.gguf");
    ADD_FAILURE() << "parsed without error";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_EQ(e.code(), code) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    EXPECT_EQ(message.rfind("gguf: bad.gguf: ", 0), 0u) << message;
    for (auto fragment : fragments) {
      EXPECT_NE(message.find(fragment), std::string::npos)
          << "message lacks '" << fragment << "': " << message;
    }
  }
}

// One f32 tensor info with the given shape/type/offset, then `data_bytes` of data.
std::vector<uint8_t> one_tensor_file(std::vector<uint64_t> dims, uint32_t type, uint64_t offset,
                                     size_t data_bytes) {
  ByteBuilder b;
  b.header(3, 1, 0);
  b.str("t").u32(static_cast<uint32_t>(dims.size()));
  for (uint64_t dim : dims) b.u64(dim);
  b.u32(type).u64(offset);
  b.pad_to(32).zeros(data_bytes);
  return b.bytes();
}

TEST(GgufCorruptTest, EveryTruncationFailsNamingAField) {
  const auto bytes = valid_file();
  const auto file = GgufFile::from_bytes(bytes);
  // The padding after the last tensor's data is not needed; cutting it is harmless.
  uint64_t data_end = 0;
  for (const auto& tensor : file.tensors()) {
    data_end = std::max(data_end, file.data_offset() + tensor.offset + tensor.n_bytes);
  }
  ASSERT_LT(data_end, bytes.size());
  ASSERT_GT(data_end, 300u);
  for (size_t length = data_end; length < bytes.size(); ++length) {
    EXPECT_NO_THROW(GgufFile::from_bytes(
        std::vector<uint8_t>(bytes.begin(), bytes.begin() + static_cast<ptrdiff_t>(length))));
  }
  for (size_t length = 0; length < data_end; ++length) {
    SCOPED_TRACE(length);
    std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + static_cast<ptrdiff_t>(length));
    try {
      GgufFile::from_bytes(std::move(cut), "cut.gguf");
      ADD_FAILURE() << "truncated file parsed";
    } catch (const Error& e) {
      const std::string message = e.what();
      EXPECT_EQ(e.code(), ErrorCode::kCorruptData) << message;
      EXPECT_EQ(message.rfind("gguf: cut.gguf: ", 0), 0u) << message;
      // Every message names its field and a byte offset.
      const bool names_field = message.find("header (") != std::string::npos ||
                               message.find("metadata ") != std::string::npos ||
                               message.find("tensor ") != std::string::npos ||
                               message.find("data section") != std::string::npos;
      EXPECT_TRUE(names_field) << message;
      EXPECT_NE(message.find(" at byte "), std::string::npos) << message;
    }
  }
}

TEST(GgufCorruptTest, TruncationMessagesPointAtTheField) {
  const auto bytes = valid_file();
  expect_error({}, ErrorCode::kCorruptData, {"header (magic) at byte 0", "needs 4 bytes but only 0 remain (file size 0)"});
  expect_error(std::vector<uint8_t>(bytes.begin(), bytes.begin() + 6), ErrorCode::kCorruptData,
               {"header (version) at byte 4"});
  expect_error(std::vector<uint8_t>(bytes.begin(), bytes.begin() + 30), ErrorCode::kCorruptData,
               {"header (metadata count) at byte 16", "count 8 needs at least 14 bytes each"});
  expect_error(ByteBuilder().header(3, 0, 1).u64(20).zeros(10).bytes(), ErrorCode::kCorruptData,
               {"metadata 0 (key) at byte 24", "string length 20 runs past end of file (size 42)"});
  expect_error(std::vector<uint8_t>(bytes.end() - 100, bytes.end()), ErrorCode::kCorruptData,
               {"magic"});
}

TEST(GgufCorruptTest, WrongMagicAndVersions) {
  auto bytes = valid_file();
  bytes[3] = 'X';
  expect_error(bytes, ErrorCode::kCorruptData, {"header (magic)", "not a GGUF file"});

  auto with_version = [](uint32_t version) {
    ByteBuilder b;
    b.header(version, 0, 0);
    return b.bytes();
  };
  expect_error(with_version(1), ErrorCode::kUnsupported, {"header (version) at byte 4", "version 1"});
  expect_error(with_version(4), ErrorCode::kUnsupported, {"header (version)", "unknown GGUF version 4"});
  expect_error(with_version(0x03000000), ErrorCode::kUnsupported, {"header (version)", "big-endian"});
  EXPECT_NO_THROW(GgufFile::from_bytes(with_version(2)));
  EXPECT_NO_THROW(GgufFile::from_bytes(with_version(3)));
}

TEST(GgufCorruptTest, AbsurdCountsFailWithoutBigAllocations) {
  auto watch = [](auto&& fn) {
    g_largest_allocation = 0;
    g_watch_allocations = true;
    fn();
    g_watch_allocations = false;
    EXPECT_LT(g_largest_allocation.load(), 4096u);
  };
  // Control: the watch does see a large allocation.
  g_largest_allocation = 0;
  g_watch_allocations = true;
  {
    std::vector<uint8_t> big(size_t{1} << 20);
    static_cast<volatile uint8_t*>(big.data())[12345] = 1;
  }
  g_watch_allocations = false;
  EXPECT_GE(g_largest_allocation.load(), size_t{1} << 20);
  watch([] {
    expect_error(ByteBuilder().header(3, 1ull << 63, 0).bytes(), ErrorCode::kCorruptData,
                 {"header (tensor count) at byte 8", "count 9223372036854775808"});
  });
  watch([] {
    expect_error(ByteBuilder().header(3, 0, 1ull << 40).bytes(), ErrorCode::kCorruptData,
                 {"header (metadata count) at byte 16"});
  });
  watch([] {
    expect_error(ByteBuilder().header(3, 0, 1).u64(1ull << 62).zeros(16).bytes(), ErrorCode::kCorruptData,
                 {"metadata 0 (key) at byte 24", "string length 4611686018427387904 runs past end"});
  });
  watch([] {
    expect_error(ByteBuilder().header(3, 0, 1).str("k").u32(8).u64(~0ull).zeros(4).bytes(),
                 ErrorCode::kCorruptData, {"metadata 0 'k' (value)", "string length"});
  });
  watch([] {
    // 100 million strings in a 60-byte file: refused before reserving.
    expect_error(ByteBuilder().header(3, 0, 1).str("k").u32(9).u32(8).u64(100000000).zeros(16).bytes(),
                 ErrorCode::kCorruptData, {"metadata 0 'k' (value)", "count 100000000"});
  });
  watch([] {
    expect_error(ByteBuilder().header(3, 0, 1).str("k").u32(9).u32(9).u64(1ull << 60).bytes(),
                 ErrorCode::kCorruptData, {"metadata 0 'k' (value)"});
  });
  watch([] {
    expect_error(ByteBuilder().header(3, 1, 0).str("t").u32(1).u64(1).u32(0).u64(0).bytes(),
                 ErrorCode::kCorruptData, {"data section"});
  });
}

TEST(GgufCorruptTest, BadValuesAndKeys) {
  expect_error(ByteBuilder().header(3, 0, 1).str("k").u32(13).u32(0).bytes(),
               ErrorCode::kCorruptData, {"metadata 0 'k' (value) at byte 33", "unknown value type id 13"});
  expect_error(ByteBuilder().header(3, 0, 1).str("k").u32(9).u32(99).u64(0).bytes(),
               ErrorCode::kCorruptData, {"metadata 0 'k' (value)", "unknown array element type id 99"});
  expect_error(ByteBuilder().header(3, 0, 1).str("flag").u32(7).u8(2).bytes(),
               ErrorCode::kCorruptData, {"metadata 0 'flag' (value) at byte 40", "invalid bool byte 2"});
  expect_error(ByteBuilder().header(3, 0, 1).str("").u32(4).u32(1).bytes(), ErrorCode::kCorruptData,
               {"metadata 0 (key) at byte 24", "empty key"});
  expect_error(ByteBuilder().header(3, 0, 2).str("a.b").u32(4).u32(1).str("a.b").u32(0).u8(1).bytes(),
               ErrorCode::kCorruptData, {"metadata 1 (key)", "duplicate key 'a.b'"});
}

TEST(GgufCorruptTest, DeepNestingIsBounded) {
  auto nested = [](int depth) {
    ByteBuilder b;
    b.header(3, 0, 1).str("deep").u32(9);
    for (int level = 1; level < depth; ++level) b.u32(9).u64(1);
    b.u32(4).u64(0);
    return b.bytes();
  };
  EXPECT_NO_THROW(GgufFile::from_bytes(nested(8)));
  expect_error(nested(9), ErrorCode::kCorruptData, {"metadata 0 'deep' (value)", "nest deeper than 8"});
  // Far deeper than any stack would take if recursion were unbounded.
  expect_error(nested(1000000), ErrorCode::kCorruptData, {"nest deeper than 8"});
}

TEST(GgufCorruptTest, BadAlignment) {
  auto with_alignment = [](auto&& put_value) {
    ByteBuilder b;
    b.header(3, 0, 1).str("general.alignment");
    put_value(b);
    return b.bytes();
  };
  expect_error(with_alignment([](ByteBuilder& b) { b.u32(4).u32(0); }), ErrorCode::kCorruptData,
               {"metadata 0 'general.alignment' (value)", "0 is not a nonzero power of two"});
  expect_error(with_alignment([](ByteBuilder& b) { b.u32(4).u32(3); }), ErrorCode::kCorruptData,
               {"general.alignment", "3 is not a nonzero power of two"});
  expect_error(with_alignment([](ByteBuilder& b) { b.u32(10).u64(32); }), ErrorCode::kCorruptData,
               {"general.alignment", "must be uint32, not uint64"});
  expect_error(with_alignment([](ByteBuilder& b) { b.u32(8).str("32"); }), ErrorCode::kCorruptData,
               {"general.alignment", "must be uint32, not string"});
}

TEST(GgufCorruptTest, BadTensorInfos) {
  EXPECT_NO_THROW(GgufFile::from_bytes(one_tensor_file({4}, 0, 0, 16)));
  expect_error(one_tensor_file({4}, 0, 64, 16), ErrorCode::kCorruptData,
               {"tensor 't' (data)", "run past end of file"});
  expect_error(one_tensor_file({4}, 0, ~0ull - 31, 16), ErrorCode::kCorruptData,
               {"tensor 't' (data)"});
  expect_error(one_tensor_file({4}, 0, 4, 32), ErrorCode::kCorruptData,
               {"tensor info 0 't' (offset)", "not a multiple of the alignment 32"});
  expect_error(one_tensor_file({4}, 4, 0, 16), ErrorCode::kUnsupported,
               {"tensor info 0 't' (type)", "unknown tensor type id 4"});
  expect_error(one_tensor_file({4}, 1000, 0, 16), ErrorCode::kUnsupported, {"unknown tensor type id 1000"});
  expect_error(one_tensor_file({1ull << 32, 1ull << 32}, 0, 0, 16), ErrorCode::kCorruptData,
               {"tensor info 0 't' (dims)", "overflows"});
  expect_error(one_tensor_file({1ull << 62}, 28, 0, 16), ErrorCode::kCorruptData,
               {"tensor info 0 't' (type)", "byte size overflows"});
  expect_error(one_tensor_file({}, 0, 0, 16), ErrorCode::kCorruptData,
               {"tensor info 0 't' (n_dims)", "n_dims 0 is outside 1..4"});
  expect_error(one_tensor_file({1, 1, 1, 1, 1}, 0, 0, 16), ErrorCode::kCorruptData,
               {"n_dims 5 is outside 1..4"});
  expect_error(one_tensor_file({4, 0}, 0, 0, 16), ErrorCode::kCorruptData,
               {"tensor info 0 't' (dims)", "dimension 1 is 0"});
  expect_error(one_tensor_file({33}, 8, 0, 64), ErrorCode::kCorruptData,
               {"tensor info 0 't' (type)", "row length 33 is not a multiple of q8_0's block size 32"});
}

TEST(GgufCorruptTest, DuplicateAndOverlappingTensors) {
  auto two_tensors = [](std::string_view second_name, uint64_t second_offset) {
    ByteBuilder b;
    b.header(3, 2, 0);
    b.str("a").u32(1).u64(16).u32(0).u64(0);
    b.str(second_name).u32(1).u64(8).u32(0).u64(second_offset);
    b.pad_to(32).zeros(128);
    return b.bytes();
  };
  EXPECT_NO_THROW(GgufFile::from_bytes(two_tensors("b", 64)));
  expect_error(two_tensors("a", 64), ErrorCode::kCorruptData,
               {"tensor info 1 (name)", "duplicate tensor name 'a'"});
  expect_error(two_tensors("b", 32), ErrorCode::kCorruptData,
               {"tensor 'b' (offset)", "overlaps tensor 'a'"});
}

TEST(GgufCorruptTest, FlippingAnyByteNeverCrashes) {
  // Every single-byte corruption either parses or throws tether::Error.
  const auto bytes = valid_file();
  for (size_t pos = 0; pos < bytes.size(); ++pos) {
    for (uint8_t value : {uint8_t{0x00}, uint8_t{0xff}, uint8_t{0x80}, uint8_t{0x07}}) {
      auto corrupt = bytes;
      corrupt[pos] = value;
      try {
        const auto file = GgufFile::from_bytes(std::move(corrupt));
        for (const auto& tensor : file.tensors()) (void)file.tensor_data(tensor);
      } catch (const Error&) {
      }
    }
  }
}

}  // namespace
}  // namespace tether::gguf
