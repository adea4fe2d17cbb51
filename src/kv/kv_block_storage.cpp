#include "kv/kv_block_storage.h"

#include <limits>

#include "common/error.h"
#include "engine/kernels/fp16.h"
#include "engine/kernels/quant_blocks.h"
#include "engine/kernels/quantize.h"

namespace tether::kv {

std::string_view kv_type_name(KvType type) {
  switch (type) {
    case KvType::kF16:
      return "f16";
    case KvType::kF32:
      return "f32";
    case KvType::kQ8_0:
      return "q8_0";
  }
  return "?";
}

size_t kv_slot_bytes(KvType type, int32_t head_dim) {
  const auto dim = static_cast<size_t>(head_dim);
  switch (type) {
    case KvType::kF16:
      return dim * 2;
    case KvType::kF32:
      return dim * 4;
    case KvType::kQ8_0:
      return kernels::row_bytes(TensorType::kQ8_0, head_dim);
  }
  return 0;
}

KvBlockStorage::KvBlockStorage(const KvShape& shape, int32_t n_blocks)
    : shape_(shape), n_blocks_(n_blocks) {
  if (shape.n_layers <= 0 || shape.n_kv_heads <= 0 || shape.head_dim <= 0 ||
      shape.block_tokens <= 0 || n_blocks <= 0) {
    throw_error(ErrorCode::kInvalidArgument,
                "kv storage: sizes must be positive (layers {}, kv heads {}, head dim {}, block "
                "tokens {}, blocks {})",
                shape.n_layers, shape.n_kv_heads, shape.head_dim, shape.block_tokens, n_blocks);
  }
  if (shape.type == KvType::kQ8_0 && shape.head_dim % kernels::kQk8_0 != 0) {
    throw_error(ErrorCode::kInvalidArgument, "kv storage: q8_0 needs a head dim that is a multiple of {}, got {}",
                kernels::kQk8_0, shape.head_dim);
  }
  block_bytes_ = kv_block_bytes(shape);
  head_run_bytes_ = block_bytes_ / (size_t{2} * static_cast<size_t>(shape.n_kv_heads) *
                                    static_cast<size_t>(shape.n_layers));
  // 128-bit product so hostile sizes cannot wrap around.
  const unsigned __int128 total = static_cast<unsigned __int128>(block_bytes_) * n_blocks;
  if (total > std::numeric_limits<size_t>::max() / 2) {
    throw_error(ErrorCode::kInvalidArgument, "kv storage: {} blocks are too large", n_blocks);
  }
  data_.resize(static_cast<size_t>(total));
}

size_t kv_block_bytes(const KvShape& shape) {
  if (shape.n_layers <= 0 || shape.n_kv_heads <= 0 || shape.head_dim <= 0 || shape.block_tokens <= 0) {
    throw_error(ErrorCode::kInvalidArgument, "kv block: sizes must be positive (layers {}, kv heads {}, head dim {}, "
                "block tokens {})", shape.n_layers, shape.n_kv_heads, shape.head_dim, shape.block_tokens);
  }
  // 128-bit products so hostile sizes cannot wrap around.
  const unsigned __int128 block = static_cast<unsigned __int128>(shape.block_tokens) *
                                  kv_slot_bytes(shape.type, shape.head_dim) * 2 * shape.n_kv_heads *
                                  shape.n_layers;
  if (block > std::numeric_limits<size_t>::max() / 2) {
    throw_error(ErrorCode::kInvalidArgument, "kv block: {} tokens of {} layers are too large", shape.block_tokens,
                shape.n_layers);
  }
  return static_cast<size_t>(block);
}

void KvBlockStorage::check_block(BlockId id) const {
  if (to_index(id) < 0 || to_index(id) >= n_blocks_) {
    throw_error(ErrorCode::kInvalidArgument, "kv storage: block {} is outside [0, {})",
                to_index(id), n_blocks_);
  }
}

size_t KvBlockStorage::offset(BlockId block, int32_t layer, bool value, int32_t kv_head) const {
  return static_cast<size_t>(to_index(block)) * block_bytes_ +
         ((static_cast<size_t>(layer) * 2 + (value ? 1 : 0)) * shape_.n_kv_heads + kv_head) *
             head_run_bytes_;
}

const uint8_t* KvBlockStorage::head_run(BlockId block, int32_t layer, bool value,
                                        int32_t kv_head) const {
  check_block(block);
  return data_.data() + offset(block, layer, value, kv_head);
}

uint8_t* KvBlockStorage::head_run(BlockId block, int32_t layer, bool value, int32_t kv_head) {
  check_block(block);
  return data_.data() + offset(block, layer, value, kv_head);
}

void KvBlockStorage::write(BlockId block, int32_t slot, int32_t layer, const float* k,
                           const float* v) {
  check_block(block);
  if (slot < 0 || slot >= shape_.block_tokens || layer < 0 || layer >= shape_.n_layers) {
    throw_error(ErrorCode::kInvalidArgument, "kv storage: slot {} / layer {} out of range", slot,
                layer);
  }
  const int32_t dim = shape_.head_dim;
  for (int32_t kind = 0; kind < 2; ++kind) {
    const float* src = kind == 0 ? k : v;
    for (int32_t head = 0; head < shape_.n_kv_heads; ++head) {
      uint8_t* run = data_.data() + offset(block, layer, kind == 1, head);
      const float* head_src = src + static_cast<size_t>(head) * dim;
      if (shape_.type == KvType::kF32) {
        float* dst = reinterpret_cast<float*>(run) + static_cast<size_t>(slot) * dim;
        for (int32_t i = 0; i < dim; ++i) dst[i] = head_src[i];
      } else if (shape_.type == KvType::kF16) {
        uint16_t* dst = reinterpret_cast<uint16_t*>(run) + static_cast<size_t>(slot) * dim;
        for (int32_t i = 0; i < dim; ++i) dst[i] = kernels::fp32_to_fp16(head_src[i]);
      } else {
        const size_t slot_bytes = kv_slot_bytes(shape_.type, dim);
        kernels::quantize_row(TensorType::kQ8_0, {head_src, static_cast<size_t>(dim)},
                              {run + static_cast<size_t>(slot) * slot_bytes, slot_bytes});
      }
    }
  }
}

void KvBlockStorage::read(BlockId block, int32_t slot, int32_t layer, float* k, float* v) const {
  check_block(block);
  if (slot < 0 || slot >= shape_.block_tokens || layer < 0 || layer >= shape_.n_layers) {
    throw_error(ErrorCode::kInvalidArgument, "kv storage: slot {} / layer {} out of range", slot,
                layer);
  }
  const int32_t dim = shape_.head_dim;
  for (int32_t kind = 0; kind < 2; ++kind) {
    float* dst = kind == 0 ? k : v;
    for (int32_t head = 0; head < shape_.n_kv_heads; ++head) {
      const uint8_t* run = data_.data() + offset(block, layer, kind == 1, head);
      float* head_dst = dst + static_cast<size_t>(head) * dim;
      if (shape_.type == KvType::kF32) {
        const float* src = reinterpret_cast<const float*>(run) + static_cast<size_t>(slot) * dim;
        for (int32_t i = 0; i < dim; ++i) head_dst[i] = src[i];
      } else if (shape_.type == KvType::kF16) {
        const uint16_t* src = reinterpret_cast<const uint16_t*>(run) + static_cast<size_t>(slot) * dim;
        for (int32_t i = 0; i < dim; ++i) head_dst[i] = kernels::fp16_to_fp32(src[i]);
      } else {
        const size_t slot_bytes = kv_slot_bytes(shape_.type, dim);
        kernels::dequantize_row(TensorType::kQ8_0, {run + static_cast<size_t>(slot) * slot_bytes, slot_bytes},
                                {head_dst, static_cast<size_t>(dim)});
      }
    }
  }
}

}  // namespace tether::kv
