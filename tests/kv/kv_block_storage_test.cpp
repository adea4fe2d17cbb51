#include "kv/kv_block_storage.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "common/error.h"

namespace tether::kv {
namespace {

KvShape shape(KvType type, int block_tokens = 4) { return {3, 2, 8, block_tokens, type}; }

std::vector<float> values(int n, float base) {
  std::vector<float> v(n);
  for (int i = 0; i < n; ++i) v[i] = base + 0.25f * i;
  return v;
}

TEST(KvBlockStorage, SizesFollowTheShape) {
  KvBlockStorage f16(shape(KvType::kF16), 5);
  EXPECT_EQ(f16.head_run_bytes(), 4u * 8 * 2);
  EXPECT_EQ(f16.block_bytes(), 4u * 8 * 2 * 2 * 2 * 3);
  EXPECT_EQ(f16.bytes(), f16.block_bytes() * 5);
  KvBlockStorage f32(shape(KvType::kF32), 5);
  EXPECT_EQ(f32.bytes(), f16.bytes() * 2);
}

TEST(KvBlockStorage, Q8_0StoresWholeBlocksPerSlotAndRoundTripsWithinAStep) {
  const KvShape q8{2, 2, 64, 4, KvType::kQ8_0};
  KvBlockStorage kv(q8, 2);
  EXPECT_EQ(kv_slot_bytes(KvType::kQ8_0, 64), 2u * 34);
  EXPECT_EQ(kv.head_run_bytes(), 4u * 2 * 34);
  // Half the F16 size, plus the scales.
  EXPECT_EQ(kv.bytes() * 64, KvBlockStorage({2, 2, 64, 4, KvType::kF16}, 2).bytes() * 34);
  std::vector<float> k(128), v(128);
  for (int i = 0; i < 128; ++i) {
    k[i] = std::sin(0.37f * i) * 3.0f;
    v[i] = std::cos(0.11f * i) - 0.5f;
  }
  kv.write(BlockId{1}, 3, 1, k.data(), v.data());
  std::vector<float> k2(128), v2(128);
  kv.read(BlockId{1}, 3, 1, k2.data(), v2.data());
  for (int i = 0; i < 128; ++i) {
    // Half a quantization step of the 32-value block (amax / 127), plus the
    // fp16 rounding of the block's scale (2^-11 relative, times 127 steps).
    EXPECT_NEAR(k2[i], k[i], 3.0f / 127 * (0.5f + 127.0f / 2048)) << i;
    EXPECT_NEAR(v2[i], v[i], 1.5f / 127 * (0.5f + 127.0f / 2048)) << i;
  }
  EXPECT_THROW(KvBlockStorage({2, 2, 48, 4, KvType::kQ8_0}, 1), Error);
  EXPECT_EQ(kv_type_name(KvType::kQ8_0), "q8_0");
}

TEST(KvBlockStorage, WriteReadRoundTripsAndLayoutIsContiguousPerHead) {
  for (KvType type : {KvType::kF32, KvType::kF16}) {
    KvBlockStorage kv(shape(type), 3);
    for (int slot = 0; slot < 4; ++slot) {
      auto k = values(16, 100.0f * slot + 1);
      auto v = values(16, -100.0f * slot - 1);
      kv.write(BlockId{2}, slot, 1, k.data(), v.data());
    }
    for (int slot = 0; slot < 4; ++slot) {
      std::vector<float> k(16), v(16);
      kv.read(BlockId{2}, slot, 1, k.data(), v.data());
      EXPECT_EQ(k, values(16, 100.0f * slot + 1));  // exact: values fit in f16
      EXPECT_EQ(v, values(16, -100.0f * slot - 1));
    }
    // Head 1's keys for slots 0..3 are one run of 4 x 8 elements: slot s's
    // first element sits s * 8 elements in, and is key element 8 (head 1).
    if (type == KvType::kF32) {
      const uint8_t* run = kv.head_run(BlockId{2}, 1, false, 1);
      for (int slot = 0; slot < 4; ++slot) {
        float first;
        std::memcpy(&first, run + slot * 8 * sizeof(float), sizeof(float));
        EXPECT_EQ(first, 100.0f * slot + 1 + 0.25f * 8);
      }
    }
    // Other blocks and layers stay untouched.
    std::vector<float> k(16), v(16);
    kv.read(BlockId{1}, 0, 1, k.data(), v.data());
    EXPECT_EQ(k, std::vector<float>(16, 0.0f));
    kv.read(BlockId{2}, 0, 0, k.data(), v.data());
    EXPECT_EQ(v, std::vector<float>(16, 0.0f));
  }
}

TEST(KvBlockStorage, F16RoundsToHalfPrecision) {
  KvBlockStorage kv(shape(KvType::kF16), 1);
  std::vector<float> k(16, 1.0f / 3.0f), v(16, 1e-3f), out_k(16), out_v(16);
  kv.write(BlockId{0}, 0, 0, k.data(), v.data());
  kv.read(BlockId{0}, 0, 0, out_k.data(), out_v.data());
  EXPECT_NEAR(out_k[0], 1.0f / 3.0f, 1e-3);
  EXPECT_NE(out_k[0], 1.0f / 3.0f);
  EXPECT_NEAR(out_v[5], 1e-3f, 1e-6);
}

TEST(KvBlockStorage, RejectsBadIdsAndSizes) {
  KvBlockStorage kv(shape(KvType::kF16), 2);
  std::vector<float> k(16), v(16);
  EXPECT_THROW(kv.write(BlockId{2}, 0, 0, k.data(), v.data()), Error);
  EXPECT_THROW(kv.write(BlockId{-1}, 0, 0, k.data(), v.data()), Error);
  EXPECT_THROW(kv.write(BlockId{0}, 4, 0, k.data(), v.data()), Error);
  EXPECT_THROW(kv.write(BlockId{0}, 0, 3, k.data(), v.data()), Error);
  EXPECT_THROW(kv.head_run(BlockId{5}, 0, false, 0), Error);
  EXPECT_THROW(KvBlockStorage(shape(KvType::kF16, 0), 1), Error);
  EXPECT_THROW(KvBlockStorage(shape(KvType::kF16), 0), Error);
  EXPECT_THROW(KvBlockStorage({1 << 20, 1 << 20, 1 << 20, 1 << 20, KvType::kF32}, 1 << 30), Error);
}

}  // namespace
}  // namespace tether::kv
