#include "engine/kernels/interleave.h"

#include <cstdlib>
#include <cstring>
#include <vector>

#include "common/error.h"
#include "engine/kernels/quant_blocks.h"
#include "engine/kernels/quantize.h"

namespace tether::kernels {
namespace {

// An interleaved block of 8 rows is the rows' GGUF blocks cut into the same
// consecutive pieces, written piece by piece: piece 0 of rows 0..7, then
// piece 1 of rows 0..7, and so on. The piece sizes per type:
//   Q4_0: scale (2), then 4 quant pieces of 4 bytes.
//   Q8_0: scale (2), then 8 quant pieces of 4 bytes.
//   Q4_K: d (2), dmin (2), the 12 scale bytes as 3 pieces of 4, then 32 quant
//         pieces of 4 (so chunk c, step s is piece 5 + 8c + s).
struct Pieces {
  size_t block_bytes = 0;
  int count = 0;
  uint8_t size[40] = {};
};

Pieces pieces(TensorType type) {
  Pieces p;
  auto add = [&p](int n, uint8_t bytes) {
    for (int i = 0; i < n; ++i) p.size[p.count++] = bytes;
  };
  switch (type) {
    case TensorType::kQ4_0:
      add(1, 2);
      add(4, 4);
      break;
    case TensorType::kQ8_0:
      add(1, 2);
      add(8, 4);
      break;
    case TensorType::kQ4_K:
      add(2, 2);
      add(3, 4);
      add(32, 4);
      break;
    default:
      throw_error(ErrorCode::kInvalidArgument, "no interleaved layout for {}", tensor_type_name(type));
  }
  for (int i = 0; i < p.count; ++i) p.block_bytes += p.size[i];
  return p;
}

}  // namespace

bool supports_interleave(TensorType type) {
  return type == TensorType::kQ4_0 || type == TensorType::kQ8_0 || type == TensorType::kQ4_K;
}

void gather_row(const WeightMatrix& w, int64_t r, std::span<uint8_t> out) {
  const size_t bytes = row_bytes(w.type, w.cols);
  if (r < 0 || r >= w.rows || out.size() != bytes) {
    throw_error(ErrorCode::kInvalidArgument, "gather_row: row {} of {}, {} bytes for a {}-byte row", r, w.rows,
                out.size(), bytes);
  }
  const int64_t grouped_rows = w.rows / kInterleaveRows * kInterleaveRows;
  if (w.layout == RowLayout::kRows || r >= grouped_rows) {
    std::memcpy(out.data(), w.data + static_cast<size_t>(r) * w.row_bytes, bytes);
    return;
  }
  // Row i of its group: piece k of every block sits at offset i within that
  // piece's run of 8.
  const Pieces p = pieces(w.type);
  const int i = static_cast<int>(r % kInterleaveRows);
  const uint8_t* in = w.data + static_cast<size_t>(r - i) * w.row_bytes;
  const size_t n_blocks = bytes / p.block_bytes;
  uint8_t* dst = out.data();
  for (size_t b = 0; b < n_blocks; ++b) {
    for (int k = 0; k < p.count; ++k) {
      std::memcpy(dst, in + p.size[k] * i, p.size[k]);
      dst += p.size[k];
      in += p.size[k] * kInterleaveRows;
    }
  }
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
  const Pieces p = pieces(src.type);
  const int64_t n_blocks = src.cols / static_cast<int64_t>(traits_of(src.type).block_elems);
  if (src.row_bytes != static_cast<size_t>(n_blocks) * p.block_bytes) {
    throw_error(ErrorCode::kInvalidArgument, "interleave_rows: row stride {} is not the {} bytes of a row",
                src.row_bytes, n_blocks * p.block_bytes);
  }
  const int64_t groups = src.rows / kInterleaveRows;
  const size_t group_bytes = src.row_bytes * kInterleaveRows;
  // Report progress about every 4 MiB, so released pages come back in
  // useful runs.
  constexpr size_t kReportEvery = size_t{4} << 20;
  size_t reported = 0;
  for (int64_t grp = 0; grp < groups; ++grp) {
    const uint8_t* in = src.data + static_cast<size_t>(grp) * group_bytes;
    uint8_t* out = dst + static_cast<size_t>(grp) * group_bytes;
    for (int64_t b = 0; b < n_blocks; ++b) {
      size_t piece_offset = 0;
      for (int k = 0; k < p.count; ++k) {
        for (int i = 0; i < kInterleaveRows; ++i) {
          std::memcpy(out, in + i * src.row_bytes + static_cast<size_t>(b) * p.block_bytes + piece_offset,
                      p.size[k]);
          out += p.size[k];
        }
        piece_offset += p.size[k];
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
  if (static_cast<int64_t>(out.size()) != w.cols) {
    throw_error(ErrorCode::kInvalidArgument, "dequantize_matrix_row: {} outputs for {} columns", out.size(),
                w.cols);
  }
  std::vector<uint8_t> row(row_bytes(w.type, w.cols));
  gather_row(w, r, row);
  dequantize_row(w.type, row, out);
}

}  // namespace tether::kernels
