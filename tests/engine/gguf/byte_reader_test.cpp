#include "engine/gguf/byte_reader.h"

#include <gtest/gtest.h>

#include "engine/gguf/byte_builder.h"

namespace tether::gguf {
namespace {

using testing::ByteBuilder;

std::string error_of(auto&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kCorruptData);
    return e.what();
  }
  ADD_FAILURE() << "no error";
  return {};
}

TEST(ByteReaderTest, ReadsLittleEndianScalarsAndStrings) {
  const auto bytes = ByteBuilder().u8(0xab).u16(0x1234).u32(0xdeadbeef).u64(1ull << 50)
                         .f32(1.25f).f64(-3.5).str("hi").str("").bytes();
  ByteReader reader(bytes, "x.gguf");
  EXPECT_EQ(reader.read_u8("a"), 0xab);
  EXPECT_EQ(reader.read_u16("b"), 0x1234);
  EXPECT_EQ(reader.read_u32("c"), 0xdeadbeefu);
  EXPECT_EQ(reader.read_u64("d"), 1ull << 50);
  EXPECT_EQ(reader.read_f32("e"), 1.25f);
  EXPECT_EQ(reader.read_f64("f"), -3.5);
  EXPECT_EQ(reader.read_string("g"), "hi");
  EXPECT_EQ(reader.read_string("h"), "");
  EXPECT_EQ(reader.remaining(), 0u);
  EXPECT_EQ(reader.position(), bytes.size());
}

TEST(ByteReaderTest, FailuresNameSourceFieldAndOffset) {
  const auto bytes = ByteBuilder().u32(7).u64(100).u8('z').bytes();
  ByteReader reader(bytes, "x.gguf");
  reader.read_u32("first");
  EXPECT_EQ(error_of([&] { reader.read_string("the name"); }),
            "gguf: x.gguf: the name at byte 4: string length 100 runs past end of file (size 13)");
  EXPECT_EQ(reader.position(), 12u);  // after the length field
  EXPECT_EQ(error_of([&] { reader.read_u16("pair"); }),
            "gguf: x.gguf: pair at byte 12: needs 2 bytes but only 1 remain (file size 13)");
  EXPECT_EQ(reader.position(), 12u);  // a failed read does not move
  EXPECT_NO_THROW(reader.require_items(1, 1, "count", 4));
  EXPECT_EQ(error_of([&] { reader.require_items(2, 1, "count", 4); }),
            "gguf: x.gguf: count at byte 4: count 2 needs at least 1 bytes each but only 1 bytes "
            "remain (size 13)");
  EXPECT_THROW(reader.require_items(~0ull, 8, "count", 4), Error);  // no overflow
  EXPECT_THROW(reader.seek(14, "seek"), Error);
  reader.seek(13, "seek");
  EXPECT_EQ(reader.remaining(), 0u);
}

}  // namespace
}  // namespace tether::gguf
