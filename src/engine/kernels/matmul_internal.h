#pragma once

#include <cstddef>
#include <cstdint>

#include "engine/kernels/matmul.h"
#include "engine/kernels/quant_blocks.h"

// Pieces shared by the scalar and AVX2 matmul translation units. Not part of
// the engine's API; tests include it to compare the two paths piece by piece.
namespace tether::kernels::detail {

// Activations for the k-quant integer dot products: 256 values q[j] * d and
// the sums of each 16-value group (the k-quant mins and the Q6_K offset need
// them). Not a GGUF storage type, so the layout is ours.
struct BlockQ8K {
  float d;
  int8_t qs[kQkK];
  int16_t bsums[kQkK / 16];
};

// Activations for the interleaved Q4_0 / Q8_0 kernels: the Q8_0 quants of
// 32 values, the scale already widened to float (the fp16-rounded value, as
// in BlockQ8_0), and the sum of the quants (Q4_0 stores nibble + 8, so its
// dot product is corrected by 8 * sum).
struct BlockQ8_0S {
  float d;
  int32_t sum;
  int8_t qs[kQk8_0];
};

// How activations are prepared for a weight matrix.
enum class ActivationFormat { kF32, kQ8_0, kQ8K, kQ8_0S };
ActivationFormat activation_format(const WeightMatrix& w);

// Bytes of one token's prepared activations (0 for kF32: the kernels read x).
size_t activation_row_bytes(ActivationFormat format, int64_t cols);

// One matmul call, everything a kernel needs to compute rows [r0, r1) for
// every token. xq holds n_tokens prepared rows xq_stride bytes apart.
struct MatmulTask {
  const WeightMatrix* w = nullptr;
  const float* x = nullptr;
  int64_t x_stride = 0;
  const uint8_t* xq = nullptr;
  size_t xq_stride = 0;
  int64_t n_tokens = 0;
  float* y = nullptr;
  int64_t y_stride = 0;
};

using RowKernel = void (*)(const MatmulTask& task, int64_t r0, int64_t r1);

// Scalar activation quantizers (deterministic; the AVX2 ones agree exactly).
void quantize_q8_0_activations_scalar(const float* x, int64_t cols, BlockQ8_0* out);
void quantize_q8_k_activations_scalar(const float* x, int64_t cols, BlockQ8K* out);
void quantize_q8_0s_activations_scalar(const float* x, int64_t cols, BlockQ8_0S* out);
// Prepares one token's activations in `format` (the AVX2 quantizers when
// avx2 is set; both give the same bytes).
void quantize_activations(ActivationFormat format, const float* x, int64_t cols, uint8_t* out,
                          bool avx2);

// Per-type row kernels for the GGUF row layout, and for the interleaved
// layout (rows [r0, r1) must start and end on groups of 8, except that r1
// may be w.rows; rows past the last whole group are the caller's to send to
// the row kernel). Both paths give bit-identical interleaved results.
RowKernel scalar_row_kernel(TensorType type);
RowKernel scalar_interleaved_kernel(TensorType type);
// Rows [r0, r1) of an interleaved matrix in plain code: the scalar kernel,
// and the AVX2 kernels' rows past the last whole group of 8.
void interleaved_rows_scalar(const MatmulTask& task, int64_t r0, int64_t r1);
// A Q8_0 activation block as BlockQ8_0S (float scale, quant sum).
void widen_q8_0_block(const BlockQ8_0& q, BlockQ8_0S* out);

// Integer dot products of one block, for tests of the two paths.
int32_t dot_q8_0_block_scalar(const BlockQ8_0& w, const BlockQ8_0& x);
int32_t dot_q4_0_block_scalar(const BlockQ4_0& w, const BlockQ8_0& x);
// sum over sub-blocks of scale * (q . x), and sum of min * group sums.
void dot_q4_k_block_scalar(const BlockQ4_K& w, const BlockQ8K& x, int32_t* sum_qx,
                           int32_t* sum_mins);
int32_t dot_q6_k_block_scalar(const BlockQ6_K& w, const BlockQ8K& x);

// CMakeLists.txt builds the *_avx2.cpp files exactly for x86-64 targets.
#if defined(__x86_64__)
#define TETHER_KERNELS_AVX2 1
#endif

#if defined(TETHER_KERNELS_AVX2)
// Defined in *_avx2.cpp, compiled with -mavx2 -mfma -mf16c; call only
// when the CPU has those.
RowKernel avx2_row_kernel(TensorType type);
RowKernel avx2_interleaved_kernel(TensorType type);
void quantize_q8_0s_activations_avx2(const float* x, int64_t cols, BlockQ8_0S* out);
void quantize_q8_0_activations_avx2(const float* x, int64_t cols, BlockQ8_0* out);
void quantize_q8_k_activations_avx2(const float* x, int64_t cols, BlockQ8K* out);
int32_t dot_q8_0_block_avx2(const BlockQ8_0& w, const BlockQ8_0& x);
int32_t dot_q4_0_block_avx2(const BlockQ4_0& w, const BlockQ8_0& x);
void dot_q4_k_block_avx2(const BlockQ4_K& w, const BlockQ8K& x, int32_t* sum_qx,
                         int32_t* sum_mins);
int32_t dot_q6_k_block_avx2(const BlockQ6_K& w, const BlockQ8K& x);
double sum_floats_avx2(const float* data, size_t n);
#endif

}  // namespace tether::kernels::detail
