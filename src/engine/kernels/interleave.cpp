#include "engine/kernels/interleave.h"

#include <cstdlib>
#include <cstring>
#include <vector>

#include "common/error.h"
#include "engine/kernels/quant_blocks.h"
#include "engine/kernels/quantize.h"

namespace tether::kernels {
namespace {

// Bytes of quants per block and the offset of the quants in a GGUF block.
struct QuantGeometry {
  size_t block_bytes;  // GGUF block size
  size_t qs_bytes;     // quant bytes per block
};

QuantGeometry geometry(TensorType type) {
  switch (type) {
    case TensorType::kQ4_0:
      return {sizeof(BlockQ4_0), kQk4_0 / 2};
    case TensorType::kQ8_0:
      return {sizeof(BlockQ8_0), kQk8_0};
    default:
      throw_error(ErrorCode::kInvalidArgument, "no interleaved layout for {}", tensor_type_name(type));
  }
}

// Both block types start with the fp16 scale; the quants follow it.
constexpr size_t kScaleBytes = 2;

}  // namespace

bool supports_interleave(TensorType type) {
  return type == TensorType::kQ4_0 || type == TensorType::kQ8_0;
}

AlignedBuffer::AlignedBuffer(size_t bytes) : size_(bytes) {
  const size_t rounded = (bytes + 63) / 64 * 64;
  void* p = std::aligned_alloc(64, rounded == 0 ? 64 : rounded);
  if (p == nullptr) throw_error(ErrorCode::kIo, "cannot allocate {} bytes", bytes);
  data_.reset(static_cast<uint8_t*>(p));
}

void AlignedBuffer::Free::operator()(uint8_t* p) const { std::free(p); }

void interleave_rows(const WeightMatrix& src, uint8_t* dst,
                     const std::function<void(size_t bytes)>& done) {
  if (src.layout != RowLayout::kRows) {
    throw_error(ErrorCode::kInvalidArgument, "interleave_rows: source is already interleaved");
  }
  const QuantGeometry g = geometry(src.type);
  const int64_t n_blocks = src.cols / static_cast<int64_t>(traits_of(src.type).block_elems);
  if (src.row_bytes != static_cast<size_t>(n_blocks) * g.block_bytes) {
    throw_error(ErrorCode::kInvalidArgument, "interleave_rows: row stride {} is not the {} bytes of a row",
                src.row_bytes, n_blocks * g.block_bytes);
  }
  const int64_t groups = src.rows / kInterleaveRows;
  const size_t group_bytes = src.row_bytes * kInterleaveRows;
  const size_t steps = g.qs_bytes / 4;
  // Report progress about every 4 MiB, so released pages come back in
  // useful runs.
  constexpr size_t kReportEvery = size_t{4} << 20;
  size_t reported = 0;
  for (int64_t grp = 0; grp < groups; ++grp) {
    const uint8_t* in = src.data + static_cast<size_t>(grp) * group_bytes;
    uint8_t* out = dst + static_cast<size_t>(grp) * group_bytes;
    for (int64_t b = 0; b < n_blocks; ++b) {
      uint8_t* block_out = out + static_cast<size_t>(b) * g.block_bytes * kInterleaveRows;
      for (int i = 0; i < kInterleaveRows; ++i) {
        const uint8_t* block_in = in + i * src.row_bytes + static_cast<size_t>(b) * g.block_bytes;
        std::memcpy(block_out + kScaleBytes * i, block_in, kScaleBytes);
        for (size_t s = 0; s < steps; ++s) {
          std::memcpy(block_out + kScaleBytes * kInterleaveRows + 32 * s + 4 * i,
                      block_in + kScaleBytes + 4 * s, 4);
        }
      }
    }
    const size_t consumed = static_cast<size_t>(grp + 1) * group_bytes;
    if (done && consumed - reported >= kReportEvery) {
      done(consumed);
      reported = consumed;
    }
  }
  const size_t tail_offset = static_cast<size_t>(groups) * group_bytes;
  const size_t total = src.row_bytes * static_cast<size_t>(src.rows);
  std::memcpy(dst + tail_offset, src.data + tail_offset, total - tail_offset);
  if (done) done(total);
}

PackedMatrix pack_for_matmul(const WeightMatrix& src, const std::function<void(size_t bytes)>& done) {
  PackedMatrix packed;
  packed.matrix = src;
  if (src.layout != RowLayout::kRows || !supports_interleave(src.type) ||
      src.rows < kInterleaveRows || src.row_bytes != row_bytes(src.type, src.cols)) {
    return packed;
  }
  packed.storage = AlignedBuffer(src.row_bytes * static_cast<size_t>(src.rows));
  interleave_rows(src, packed.storage.data(), done);
  packed.matrix.data = packed.storage.data();
  packed.matrix.layout = RowLayout::kInterleaved8;
  return packed;
}

void dequantize_matrix_row(const WeightMatrix& w, int64_t r, std::span<float> out) {
  if (r < 0 || r >= w.rows || static_cast<int64_t>(out.size()) != w.cols) {
    throw_error(ErrorCode::kInvalidArgument, "dequantize_matrix_row: row {} of {}, {} outputs for {} columns",
                r, w.rows, out.size(), w.cols);
  }
  const size_t bytes = row_bytes(w.type, w.cols);
  const int64_t grouped_rows = w.rows / kInterleaveRows * kInterleaveRows;
  if (w.layout == RowLayout::kRows || r >= grouped_rows) {
    dequantize_row(w.type, {w.data + static_cast<size_t>(r) * w.row_bytes, bytes}, out);
    return;
  }
  // Gather the row's blocks back into GGUF form, then decode them.
  const QuantGeometry g = geometry(w.type);
  const size_t steps = g.qs_bytes / 4;
  const int64_t n_blocks = w.cols / static_cast<int64_t>(traits_of(w.type).block_elems);
  const int i = static_cast<int>(r % kInterleaveRows);
  const uint8_t* group = w.data + static_cast<size_t>(r - i) * w.row_bytes;
  std::vector<uint8_t> row(bytes);
  for (int64_t b = 0; b < n_blocks; ++b) {
    const uint8_t* block_in = group + static_cast<size_t>(b) * g.block_bytes * kInterleaveRows;
    uint8_t* block_out = row.data() + static_cast<size_t>(b) * g.block_bytes;
    std::memcpy(block_out, block_in + kScaleBytes * i, kScaleBytes);
    for (size_t s = 0; s < steps; ++s) {
      std::memcpy(block_out + kScaleBytes + 4 * s, block_in + kScaleBytes * kInterleaveRows + 32 * s + 4 * i, 4);
    }
  }
  dequantize_row(w.type, row, out);
}

}  // namespace tether::kernels
