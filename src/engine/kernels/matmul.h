#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "engine/kernels/thread_pool.h"
#include "engine/tensor_type.h"

namespace tether::kernels {

// Which implementation runs: AVX2/FMA/F16C where the CPU has them (chosen at
// run time), else portable scalar code. Tests run both and compare.
enum class KernelPath { kScalar, kAvx2 };

KernelPath best_kernel_path();  // detected once (cpuid)
std::string_view kernel_path_name(KernelPath path);

// How a matrix's rows are laid out in memory.
enum class RowLayout {
  kRows,          // as GGUF stores them: row r starts at r * row_bytes
  kInterleaved8,  // groups of 8 rows interleaved block by block (interleave.h)
};

// A 2-D weight matrix: `rows` rows of `cols` elements each (cols = dims[0]),
// `row_bytes` per row, in `type` blocks, laid out as `layout` says.
struct WeightMatrix {
  TensorType type = TensorType::kF32;
  const uint8_t* data = nullptr;
  int64_t rows = 0;
  int64_t cols = 0;
  size_t row_bytes = 0;
  RowLayout layout = RowLayout::kRows;
};

// True for the weight types the engine can multiply: F32, F16, BF16, Q8_0,
// Q4_0, Q4_K, Q6_K.
bool supports_matmul(TensorType type);

// Y[t][r] = sum_c W[r][c] * X[t][c] for t < n_tokens, r < rows.
// X: n_tokens rows of w.cols floats, x_stride floats apart; Y: n_tokens rows
// of w.rows floats, y_stride floats apart. n_tokens = 1 is the decode
// (matrix x vector) case; larger n_tokens is prefill / batched decode, where
// each weight block is read once for many tokens. Activations are quantized
// on the fly (Q8_0 / Q8_K) where the weight type's integer dot product is
// faster. Results are independent of the number of threads.
void matmul(const WeightMatrix& w, const float* x, int64_t n_tokens, int64_t x_stride, float* y,
            int64_t y_stride, ThreadPool& pool, KernelPath path = best_kernel_path());

}  // namespace tether::kernels
