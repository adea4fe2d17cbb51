#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>

#include "engine/kernels/matmul.h"

// Row-interleaved weight layouts. In GGUF each row of a quantized matrix is
// its own run of blocks, so a kernel that computes 8 rows at once reads 8
// streams and must reduce every row's vector lanes to one number at the end
// of every block. Interleaving 8 rows block by block lets one 32-byte load
// carry 4 bytes of each of the 8 rows, so integer dot products land one row
// per lane, the 8 rows' scales convert in one instruction, and decode reads
// one sequential stream. The interleaved form has exactly the byte size of
// the rows it replaces.
//
// Layout of one group of 8 rows, for each block b of the row, in order:
//   Q4_0: 8 fp16 scales (row 0..7), then 4 steps s of 32 bytes: bytes
//         4s..4s+3 of qs of row 0, of row 1, ... of row 7.       (144 bytes)
//   Q8_0: 8 fp16 scales, then 8 steps s of 32 bytes: bytes 4s..4s+3 of qs of
//         rows 0..7.                                              (272 bytes)
//   Q4_K: 8 fp16 d, 8 fp16 dmin, scale bytes 0-3 / 4-7 / 8-11 of rows 0..7
//         (3 x 32 bytes), then for chunk c < 4 and step s < 8, 32 bytes:
//         qs[32c + 4s .. 32c + 4s + 3] of rows 0..7.            (1152 bytes)
// Rows past the last whole group keep the GGUF layout, right after the
// groups, so row r >= 8 * (rows / 8) still starts at r * row_bytes.
namespace tether::kernels {

inline constexpr int kInterleaveRows = 8;

// True for the types with an interleaved layout (Q4_0, Q8_0, Q4_K).
bool supports_interleave(TensorType type);

// Copies row r of `w` (either layout) into `out` in GGUF row form; out.size()
// must be the bytes of one row. Throws Error(kInvalidArgument) otherwise.
void gather_row(const WeightMatrix& w, int64_t r, std::span<uint8_t> out);

// 64-byte aligned heap memory that a WeightMatrix can point into.
class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  explicit AlignedBuffer(size_t bytes);
  uint8_t* data() { return data_.get(); }
  const uint8_t* data() const { return data_.get(); }
  size_t size() const { return size_; }

 private:
  struct Free {
    void operator()(uint8_t* p) const;
  };
  std::unique_ptr<uint8_t, Free> data_;
  size_t size_ = 0;
};

// Writes the interleaved form of `src` (GGUF row layout, row_bytes exactly
// the bytes of one row) to `dst`, which holds src.rows * src.row_bytes bytes.
// `done(bytes)` is called as source bytes [0, bytes) stop being needed, so a
// caller can release mapped pages while a large matrix is repacked.
// Throws Error(kInvalidArgument) for an unsupported type or layout.
void interleave_rows(const WeightMatrix& src, uint8_t* dst,
                     const std::function<void(size_t bytes)>& done = {});

// A matrix in the layout the kernels multiply fastest, owning its memory
// when it had to be repacked (otherwise it is `src` itself, in place).
struct PackedMatrix {
  WeightMatrix matrix;
  AlignedBuffer storage;
};
PackedMatrix pack_for_matmul(const WeightMatrix& src,
                             const std::function<void(size_t bytes)>& done = {});

// Row r of `w` (either layout) as floats; out.size() must be w.cols.
void dequantize_matrix_row(const WeightMatrix& w, int64_t r, std::span<float> out);

}  // namespace tether::kernels
