#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "engine/kernels/fp16.h"
#include "engine/kernels/quant_blocks.h"
#include "kv/kv_block_storage.h"

namespace tether::kernels {

// Element idx (slot * head_dim + i) of a K or V head run as a float, for
// each storage type. Q8_0 runs are consecutive 32-value blocks, so element
// idx is quant idx % 32 of block idx / 32. Shared by both attention paths.
inline float kv_element(const uint8_t* run, kv::KvType type, size_t idx) {
  switch (type) {
    case kv::KvType::kF32:
      return reinterpret_cast<const float*>(run)[idx];
    case kv::KvType::kF16:
      return fp16_to_fp32(reinterpret_cast<const uint16_t*>(run)[idx]);
    case kv::KvType::kQ8_0: {
      const uint8_t* block = run + (idx / kQk8_0) * sizeof(BlockQ8_0);
      uint16_t d;
      std::memcpy(&d, block, 2);
      return fp16_to_fp32(d) * static_cast<float>(static_cast<int8_t>(block[2 + idx % kQk8_0]));
    }
  }
  return 0.0f;
}

}  // namespace tether::kernels
