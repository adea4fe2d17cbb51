#include "engine/kernels/quantize.h"

#include <limits>

#include "common/error.h"
#include "engine/kernels/quant_formats.h"

namespace tether::kernels {
namespace {

using QuantizeFn = void (*)(std::span<const float>, std::span<uint8_t>);
using DequantizeFn = void (*)(std::span<const uint8_t>, std::span<float>);

struct RowCodec {
  QuantizeFn quantize;
  DequantizeFn dequantize;
};

const RowCodec* find_codec(TensorType type) {
  static constexpr RowCodec kF32{quantize_f32, dequantize_f32};
  static constexpr RowCodec kF16{quantize_f16, dequantize_f16};
  static constexpr RowCodec kBF16{quantize_bf16, dequantize_bf16};
  static constexpr RowCodec kQ8_0{quantize_q8_0, dequantize_q8_0};
  static constexpr RowCodec kQ4_0{quantize_q4_0, dequantize_q4_0};
  static constexpr RowCodec kQ4_K{quantize_q4_k, dequantize_q4_k};
  static constexpr RowCodec kQ6_K{quantize_q6_k, dequantize_q6_k};
  switch (type) {
    case TensorType::kF32: return &kF32;
    case TensorType::kF16: return &kF16;
    case TensorType::kBF16: return &kBF16;
    case TensorType::kQ8_0: return &kQ8_0;
    case TensorType::kQ4_0: return &kQ4_0;
    case TensorType::kQ4_K: return &kQ4_K;
    case TensorType::kQ6_K: return &kQ6_K;
    default: return nullptr;
  }
}

const RowCodec& codec_or_throw(TensorType type) {
  const RowCodec* codec = find_codec(type);
  if (codec == nullptr) {
    auto traits = tensor_type_traits(static_cast<uint32_t>(type));
    if (traits) {
      throw_error(ErrorCode::kUnsupported, "quantization to {} is not supported", traits->name);
    }
    throw_error(ErrorCode::kUnsupported, "unknown tensor type id {}",
                static_cast<uint32_t>(type));
  }
  return *codec;
}

}  // namespace

bool supports_quantization(TensorType type) { return find_codec(type) != nullptr; }

size_t row_bytes(TensorType type, int64_t n_elements) {
  codec_or_throw(type);
  const TensorTypeTraits traits = traits_of(type);
  if (n_elements < 0 || n_elements % traits.block_elems != 0) {
    throw_error(ErrorCode::kInvalidArgument,
                "a {} row needs a multiple of {} elements, got {}", traits.name,
                traits.block_elems, n_elements);
  }
  const auto n_blocks = static_cast<uint64_t>(n_elements / traits.block_elems);
  if (n_blocks > std::numeric_limits<size_t>::max() / traits.block_bytes) {
    throw_error(ErrorCode::kInvalidArgument, "a {} row of {} elements is too large",
                traits.name, n_elements);
  }
  return static_cast<size_t>(n_blocks * traits.block_bytes);
}

void quantize_row(TensorType type, std::span<const float> src, std::span<uint8_t> dst) {
  const RowCodec& codec = codec_or_throw(type);
  const size_t expected = row_bytes(type, static_cast<int64_t>(src.size()));
  if (dst.size() != expected) {
    throw_error(ErrorCode::kInvalidArgument,
                "{} row of {} elements takes {} bytes, destination has {}",
                tensor_type_name(type), src.size(), expected, dst.size());
  }
  codec.quantize(src, dst);
}

void dequantize_row(TensorType type, std::span<const uint8_t> src, std::span<float> dst) {
  const RowCodec& codec = codec_or_throw(type);
  const size_t expected = row_bytes(type, static_cast<int64_t>(dst.size()));
  if (src.size() != expected) {
    throw_error(ErrorCode::kInvalidArgument,
                "{} row of {} elements takes {} bytes, source has {}",
                tensor_type_name(type), dst.size(), expected, src.size());
  }
  codec.dequantize(src, dst);
}

}  // namespace tether::kernels
