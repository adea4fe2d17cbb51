#include "engine/kernels/matmul.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "common/error.h"
#include "engine/kernels/cpu_features.h"
#include "engine/kernels/fp16.h"
#include "engine/kernels/interleave.h"
#include "engine/kernels/matmul_internal.h"
#include "engine/kernels/quantize.h"

namespace tether::kernels {
namespace detail {
namespace {

template <typename Block>
Block load_block(const uint8_t* p) {
  Block b;
  std::memcpy(&b, p, sizeof(Block));
  return b;
}

// --- float weights -------------------------------------------------------

// Eight partial sums, combined pairwise at the end, in the same order the
// AVX2 kernels use for their lanes, so the two paths stay close.
template <typename Load>
float dot_floats(const float* x, int64_t cols, Load load) {
  float acc[8] = {};
  int64_t c = 0;
  for (; c + 8 <= cols; c += 8) {
    for (int l = 0; l < 8; ++l) acc[l] += load(c + l) * x[c + l];
  }
  for (; c < cols; ++c) acc[c & 7] += load(c) * x[c];
  const float s0 = (acc[0] + acc[4]) + (acc[2] + acc[6]);
  const float s1 = (acc[1] + acc[5]) + (acc[3] + acc[7]);
  return s0 + s1;
}

void kernel_f32_scalar(const MatmulTask& t, int64_t r0, int64_t r1) {
  const WeightMatrix& w = *t.w;
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* row = w.data + static_cast<size_t>(r) * w.row_bytes;
    for (int64_t k = 0; k < t.n_tokens; ++k) {
      t.y[k * t.y_stride + r] = dot_floats(t.x + k * t.x_stride, w.cols, [row](int64_t c) {
        float v;
        std::memcpy(&v, row + c * 4, 4);
        return v;
      });
    }
  }
}

void kernel_f16_scalar(const MatmulTask& t, int64_t r0, int64_t r1) {
  const WeightMatrix& w = *t.w;
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* row = w.data + static_cast<size_t>(r) * w.row_bytes;
    for (int64_t k = 0; k < t.n_tokens; ++k) {
      t.y[k * t.y_stride + r] = dot_floats(t.x + k * t.x_stride, w.cols, [row](int64_t c) {
        uint16_t h;
        std::memcpy(&h, row + c * 2, 2);
        return fp16_to_fp32(h);
      });
    }
  }
}

void kernel_bf16_scalar(const MatmulTask& t, int64_t r0, int64_t r1) {
  const WeightMatrix& w = *t.w;
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* row = w.data + static_cast<size_t>(r) * w.row_bytes;
    for (int64_t k = 0; k < t.n_tokens; ++k) {
      t.y[k * t.y_stride + r] = dot_floats(t.x + k * t.x_stride, w.cols, [row](int64_t c) {
        uint16_t h;
        std::memcpy(&h, row + c * 2, 2);
        return bf16_to_fp32(h);
      });
    }
  }
}

// --- quantized weights ---------------------------------------------------

// Per-block float terms go to 8 accumulators by block index, combined like
// the float dot above.
struct BlockAccumulator {
  float acc[8] = {};
  void add(int64_t block, float v) { acc[block & 7] += v; }
  float total() const {
    const float s0 = (acc[0] + acc[4]) + (acc[2] + acc[6]);
    const float s1 = (acc[1] + acc[5]) + (acc[3] + acc[7]);
    return s0 + s1;
  }
};

template <typename WBlock, typename XBlock, typename BlockDot>
void kernel_blocks_scalar(const MatmulTask& t, int64_t r0, int64_t r1, int block_elems,
                          BlockDot block_dot) {
  const WeightMatrix& w = *t.w;
  const int64_t n_blocks = w.cols / block_elems;
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* row = w.data + static_cast<size_t>(r) * w.row_bytes;
    for (int64_t k = 0; k < t.n_tokens; ++k) {
      const auto* xb = reinterpret_cast<const XBlock*>(t.xq + static_cast<size_t>(k) * t.xq_stride);
      BlockAccumulator acc;
      for (int64_t b = 0; b < n_blocks; ++b) {
        const WBlock wb = load_block<WBlock>(row + b * sizeof(WBlock));
        acc.add(b, block_dot(wb, xb[b]));
      }
      t.y[k * t.y_stride + r] = acc.total();
    }
  }
}

void kernel_q8_0_scalar(const MatmulTask& t, int64_t r0, int64_t r1) {
  kernel_blocks_scalar<BlockQ8_0, BlockQ8_0>(
      t, r0, r1, kQk8_0, [](const BlockQ8_0& w, const BlockQ8_0& x) {
        return fp16_to_fp32(w.d) * fp16_to_fp32(x.d) *
               static_cast<float>(dot_q8_0_block_scalar(w, x));
      });
}

void kernel_q4_0_scalar(const MatmulTask& t, int64_t r0, int64_t r1) {
  kernel_blocks_scalar<BlockQ4_0, BlockQ8_0>(
      t, r0, r1, kQk4_0, [](const BlockQ4_0& w, const BlockQ8_0& x) {
        return fp16_to_fp32(w.d) * fp16_to_fp32(x.d) *
               static_cast<float>(dot_q4_0_block_scalar(w, x));
      });
}

void kernel_q4_k_scalar(const MatmulTask& t, int64_t r0, int64_t r1) {
  kernel_blocks_scalar<BlockQ4_K, BlockQ8K>(
      t, r0, r1, kQkK, [](const BlockQ4_K& w, const BlockQ8K& x) {
        int32_t sum_qx = 0;
        int32_t sum_mins = 0;
        dot_q4_k_block_scalar(w, x, &sum_qx, &sum_mins);
        return fp16_to_fp32(w.d) * x.d * static_cast<float>(sum_qx) -
               fp16_to_fp32(w.dmin) * x.d * static_cast<float>(sum_mins);
      });
}

void kernel_q6_k_scalar(const MatmulTask& t, int64_t r0, int64_t r1) {
  kernel_blocks_scalar<BlockQ6_K, BlockQ8K>(
      t, r0, r1, kQkK, [](const BlockQ6_K& w, const BlockQ8K& x) {
        return fp16_to_fp32(w.d) * x.d * static_cast<float>(dot_q6_k_block_scalar(w, x));
      });
}

float abs_max(const float* x, int n) {
  float amax = 0.0f;
  for (int j = 0; j < n; ++j) amax = std::fmax(amax, std::fabs(x[j]));
  return amax;
}

}  // namespace

// Rounds to nearest with ties to even (the AVX2 rounding mode), so both
// paths produce the same quants.
void quantize_q8_0_activations_scalar(const float* x, int64_t cols, BlockQ8_0* out) {
  for (int64_t b = 0; b < cols / kQk8_0; ++b) {
    const float* xb = x + b * kQk8_0;
    const float d = abs_max(xb, kQk8_0) / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    out[b].d = fp32_to_fp16(d);
    for (int j = 0; j < kQk8_0; ++j) {
      out[b].qs[j] = static_cast<int8_t>(std::nearbyint(xb[j] * id));
    }
  }
}

void quantize_q8_k_activations_scalar(const float* x, int64_t cols, BlockQ8K* out) {
  for (int64_t b = 0; b < cols / kQkK; ++b) {
    const float* xb = x + b * kQkK;
    const float d = abs_max(xb, kQkK) / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    out[b].d = d;
    for (int g = 0; g < kQkK / 16; ++g) {
      int sum = 0;
      for (int j = g * 16; j < g * 16 + 16; ++j) {
        const auto q = static_cast<int8_t>(std::nearbyint(xb[j] * id));
        out[b].qs[j] = q;
        sum += q;
      }
      out[b].bsums[g] = static_cast<int16_t>(sum);
    }
  }
}

void quantize_q8_0s_activations_scalar(const float* x, int64_t cols, BlockQ8_0S* out) {
  for (int64_t b = 0; b < cols / kQk8_0; ++b) {
    BlockQ8_0 q;
    quantize_q8_0_activations_scalar(x + b * kQk8_0, kQk8_0, &q);
    widen_q8_0_block(q, &out[b]);
  }
}

void widen_q8_0_block(const BlockQ8_0& q, BlockQ8_0S* out) {
  out->d = fp16_to_fp32(q.d);
  int32_t sum = 0;
  for (int j = 0; j < kQk8_0; ++j) sum += q.qs[j];
  out->sum = sum;
  std::memcpy(out->qs, q.qs, kQk8_0);
}

// One block's update of a row's accumulator for the interleaved kernels:
// the exact integer dot product, then fma(float(dot), d_w * d_x, acc) (and
// for Q4_K the mins' term the same way). The AVX2 kernels perform these
// float operations lane by lane, so the two paths agree to the bit.
float interleaved_block_update(TensorType type, const uint8_t* wb, const uint8_t* xq, int64_t b,
                               float acc) {
  switch (type) {
    case TensorType::kQ4_0: {
      const auto w = load_block<BlockQ4_0>(wb);
      const auto& x = reinterpret_cast<const BlockQ8_0S*>(xq)[b];
      int32_t dot = 0;
      for (int j = 0; j < kQk4_0 / 2; ++j) {
        dot += (w.qs[j] & 0x0f) * int32_t{x.qs[j]} + (w.qs[j] >> 4) * int32_t{x.qs[j + kQk4_0 / 2]};
      }
      dot -= 8 * x.sum;
      return std::fma(static_cast<float>(dot), fp16_to_fp32(w.d) * x.d, acc);
    }
    case TensorType::kQ8_0: {
      const auto w = load_block<BlockQ8_0>(wb);
      const auto& x = reinterpret_cast<const BlockQ8_0S*>(xq)[b];
      int32_t dot = 0;
      for (int j = 0; j < kQk8_0; ++j) dot += int32_t{w.qs[j]} * x.qs[j];
      return std::fma(static_cast<float>(dot), fp16_to_fp32(w.d) * x.d, acc);
    }
    case TensorType::kQ4_K: {
      const auto w = load_block<BlockQ4_K>(wb);
      const auto& x = reinterpret_cast<const BlockQ8K*>(xq)[b];
      int32_t sum_qx = 0;
      int32_t sum_mins = 0;
      dot_q4_k_block_scalar(w, x, &sum_qx, &sum_mins);
      acc = std::fma(static_cast<float>(sum_qx), fp16_to_fp32(w.d) * x.d, acc);
      return std::fma(-static_cast<float>(sum_mins), fp16_to_fp32(w.dmin) * x.d, acc);
    }
    default:
      throw_error(ErrorCode::kInvalidArgument, "no interleaved kernel for {}", tensor_type_name(type));
  }
}

void interleaved_rows_scalar(const MatmulTask& t, int64_t r0, int64_t r1) {
  const WeightMatrix& w = *t.w;
  const TensorTypeTraits traits = traits_of(w.type);
  const int64_t n_blocks = w.cols / traits.block_elems;
  thread_local std::vector<uint8_t> row;
  row.resize(row_bytes(w.type, w.cols));
  for (int64_t r = r0; r < r1; ++r) {
    gather_row(w, r, row);  // GGUF form, whatever the layout
    for (int64_t k = 0; k < t.n_tokens; ++k) {
      const uint8_t* xq = t.xq + static_cast<size_t>(k) * t.xq_stride;
      float acc = 0.0f;
      for (int64_t b = 0; b < n_blocks; ++b) {
        acc = interleaved_block_update(w.type, row.data() + static_cast<size_t>(b) * traits.block_bytes, xq, b,
                                       acc);
      }
      t.y[k * t.y_stride + r] = acc;
    }
  }
}

int32_t dot_q8_0_block_scalar(const BlockQ8_0& w, const BlockQ8_0& x) {
  int32_t sum = 0;
  for (int j = 0; j < kQk8_0; ++j) sum += int32_t{w.qs[j]} * x.qs[j];
  return sum;
}

int32_t dot_q4_0_block_scalar(const BlockQ4_0& w, const BlockQ8_0& x) {
  int32_t sum = 0;
  for (int j = 0; j < kQk4_0 / 2; ++j) {
    sum += ((w.qs[j] & 0x0f) - 8) * int32_t{x.qs[j]};
    sum += ((w.qs[j] >> 4) - 8) * int32_t{x.qs[j + kQk4_0 / 2]};
  }
  return sum;
}

void dot_q4_k_block_scalar(const BlockQ4_K& w, const BlockQ8K& x, int32_t* sum_qx,
                           int32_t* sum_mins) {
  int32_t qx = 0;
  int32_t mins = 0;
  for (int s = 0; s < 8; ++s) {
    const Q4KScaleMin sm = unpack_q4_k_scale_min(s, w.scales);
    const uint8_t* q = w.qs + (s / 2) * 32;
    const int shift = (s % 2) * 4;
    int32_t dot = 0;
    for (int j = 0; j < 32; ++j) dot += ((q[j] >> shift) & 0x0f) * int32_t{x.qs[s * 32 + j]};
    qx += int32_t{sm.scale} * dot;
    mins += int32_t{sm.min} * (x.bsums[2 * s] + x.bsums[2 * s + 1]);
  }
  *sum_qx = qx;
  *sum_mins = mins;
}

int32_t dot_q6_k_block_scalar(const BlockQ6_K& w, const BlockQ8K& x) {
  int32_t total = 0;
  for (int h = 0; h < 2; ++h) {
    const uint8_t* ql = w.ql + 64 * h;
    const uint8_t* qh = w.qh + 32 * h;
    int32_t group[8] = {};  // sub-blocks 8h .. 8h+7
    for (int i = 0; i < 32; ++i) {
      const int q0 = ((ql[i] & 0x0f) | (((qh[i] >> 0) & 3) << 4)) - 32;
      const int q1 = ((ql[i + 32] & 0x0f) | (((qh[i] >> 2) & 3) << 4)) - 32;
      const int q2 = ((ql[i] >> 4) | (((qh[i] >> 4) & 3) << 4)) - 32;
      const int q3 = ((ql[i + 32] >> 4) | (((qh[i] >> 6) & 3) << 4)) - 32;
      const int8_t* xq = x.qs + 128 * h;
      group[i / 16 + 0] += q0 * xq[i];
      group[i / 16 + 2] += q1 * xq[i + 32];
      group[i / 16 + 4] += q2 * xq[i + 64];
      group[i / 16 + 6] += q3 * xq[i + 96];
    }
    for (int g = 0; g < 8; ++g) total += int32_t{w.scales[8 * h + g]} * group[g];
  }
  return total;
}

ActivationFormat activation_format(const WeightMatrix& w) {
  if (w.layout == RowLayout::kInterleaved8 && w.type != TensorType::kQ4_K) {
    return ActivationFormat::kQ8_0S;
  }
  switch (w.type) {
    case TensorType::kQ8_0:
    case TensorType::kQ4_0:
      return ActivationFormat::kQ8_0;
    case TensorType::kQ4_K:
    case TensorType::kQ6_K:
      return ActivationFormat::kQ8K;
    default:
      return ActivationFormat::kF32;
  }
}

size_t activation_row_bytes(ActivationFormat format, int64_t cols) {
  switch (format) {
    case ActivationFormat::kQ8_0:
      return static_cast<size_t>(cols / kQk8_0) * sizeof(BlockQ8_0);
    case ActivationFormat::kQ8K:
      return static_cast<size_t>(cols / kQkK) * sizeof(BlockQ8K);
    case ActivationFormat::kQ8_0S:
      return static_cast<size_t>(cols / kQk8_0) * sizeof(BlockQ8_0S);
    case ActivationFormat::kF32:
      return 0;
  }
  return 0;
}

RowKernel scalar_row_kernel(TensorType type) {
  switch (type) {
    case TensorType::kF32:
      return kernel_f32_scalar;
    case TensorType::kF16:
      return kernel_f16_scalar;
    case TensorType::kBF16:
      return kernel_bf16_scalar;
    case TensorType::kQ8_0:
      return kernel_q8_0_scalar;
    case TensorType::kQ4_0:
      return kernel_q4_0_scalar;
    case TensorType::kQ4_K:
      return kernel_q4_k_scalar;
    case TensorType::kQ6_K:
      return kernel_q6_k_scalar;
    default:
      return nullptr;
  }
}

void quantize_activations(ActivationFormat format, const float* x, int64_t cols, uint8_t* out,
                          bool avx2) {
#if !defined(TETHER_KERNELS_AVX2)
  avx2 = false;
#endif
  switch (format) {
    case ActivationFormat::kQ8_0:
#if defined(TETHER_KERNELS_AVX2)
      if (avx2) return quantize_q8_0_activations_avx2(x, cols, reinterpret_cast<BlockQ8_0*>(out));
#endif
      return quantize_q8_0_activations_scalar(x, cols, reinterpret_cast<BlockQ8_0*>(out));
    case ActivationFormat::kQ8K:
#if defined(TETHER_KERNELS_AVX2)
      if (avx2) return quantize_q8_k_activations_avx2(x, cols, reinterpret_cast<BlockQ8K*>(out));
#endif
      return quantize_q8_k_activations_scalar(x, cols, reinterpret_cast<BlockQ8K*>(out));
    case ActivationFormat::kQ8_0S:
#if defined(TETHER_KERNELS_AVX2)
      if (avx2) return quantize_q8_0s_activations_avx2(x, cols, reinterpret_cast<BlockQ8_0S*>(out));
#endif
      return quantize_q8_0s_activations_scalar(x, cols, reinterpret_cast<BlockQ8_0S*>(out));
    case ActivationFormat::kF32:
      return;
  }
}

RowKernel scalar_interleaved_kernel(TensorType type) {
  return supports_interleave(type) ? interleaved_rows_scalar : nullptr;
}

}  // namespace detail

KernelPath best_kernel_path() {
  static const KernelPath path = cpu_has_avx2_fma_f16c() ? KernelPath::kAvx2 : KernelPath::kScalar;
  return path;
}

std::string_view kernel_path_name(KernelPath path) {
  return path == KernelPath::kAvx2 ? "avx2" : "scalar";
}

bool supports_matmul(TensorType type) { return detail::scalar_row_kernel(type) != nullptr; }

void matmul(const WeightMatrix& w, const float* x, int64_t n_tokens, int64_t x_stride, float* y,
            int64_t y_stride, ThreadPool& pool, KernelPath path) {
  using namespace detail;
  if (!supports_matmul(w.type)) {
    throw_error(ErrorCode::kUnsupported, "matmul does not support weight type {}",
                tensor_type_name(w.type));
  }
  if (w.layout == RowLayout::kInterleaved8 && (!supports_interleave(w.type) ||
                                                w.row_bytes != row_bytes(w.type, w.cols))) {
    throw_error(ErrorCode::kInvalidArgument, "matmul: no interleaved {} layout with row stride {}",
                tensor_type_name(w.type), w.row_bytes);
  }
  if (w.rows < 0 || w.cols < 0 || n_tokens < 0) {
    throw_error(ErrorCode::kInvalidArgument, "matmul: negative size (rows {}, cols {}, tokens {})",
                w.rows, w.cols, n_tokens);
  }
  const uint32_t block = traits_of(w.type).block_elems;
  if (w.cols % block != 0) {
    throw_error(ErrorCode::kInvalidArgument, "matmul: {} columns are not a multiple of {}'s block {}",
                w.cols, tensor_type_name(w.type), block);
  }
  if (w.row_bytes < row_bytes(w.type, w.cols)) {
    throw_error(ErrorCode::kInvalidArgument, "matmul: row stride {} is below the {} bytes of a row",
                w.row_bytes, row_bytes(w.type, w.cols));
  }
  if (n_tokens > 1 && (x_stride < w.cols || y_stride < w.rows)) {
    throw_error(ErrorCode::kInvalidArgument, "matmul: strides x {} / y {} below cols {} / rows {}",
                x_stride, y_stride, w.cols, w.rows);
  }
  if (w.rows == 0 || n_tokens == 0) return;
  if (w.cols == 0) {
    for (int64_t k = 0; k < n_tokens; ++k) {
      for (int64_t r = 0; r < w.rows; ++r) y[k * y_stride + r] = 0.0f;
    }
    return;
  }

#if defined(TETHER_KERNELS_AVX2)
  const bool avx2 = path == KernelPath::kAvx2 && best_kernel_path() == KernelPath::kAvx2;
#else
  const bool avx2 = false;
#endif

  MatmulTask task;
  task.w = &w;
  task.x = x;
  task.x_stride = x_stride;
  task.n_tokens = n_tokens;
  task.y = y;
  task.y_stride = y_stride;

  // Activations are quantized once per call and shared by all threads; the
  // buffer is per thread and reused, so steady-state calls do not allocate.
  thread_local std::vector<uint8_t> xq_buffer;
  const ActivationFormat format = activation_format(w);
  if (format != ActivationFormat::kF32) {
    const size_t stride = activation_row_bytes(format, w.cols);
    // 64-byte aligned rows keep block loads from splitting cache lines.
    const size_t aligned_stride = (stride + 63) / 64 * 64;
    const size_t need = aligned_stride * static_cast<size_t>(n_tokens) + 64;
    if (xq_buffer.size() < need) xq_buffer.resize(need);
    uint8_t* base = xq_buffer.data();
    base += (64 - reinterpret_cast<uintptr_t>(base) % 64) % 64;
    task.xq = base;
    task.xq_stride = aligned_stride;
    auto quantize_tokens = [&](int64_t k0, int64_t k1, int) {
      for (int64_t k = k0; k < k1; ++k) {
        quantize_activations(format, x + k * x_stride, w.cols,
                             base + static_cast<size_t>(k) * aligned_stride, avx2);
      }
    };
    if (n_tokens >= 4) {
      pool.parallel_for(n_tokens, 1, quantize_tokens);
    } else {
      quantize_tokens(0, n_tokens, 0);
    }
  }

  const bool interleaved = w.layout == RowLayout::kInterleaved8;
#if defined(TETHER_KERNELS_AVX2)
  const RowKernel kernel = interleaved ? (avx2 ? avx2_interleaved_kernel(w.type) : scalar_interleaved_kernel(w.type))
                                       : (avx2 ? avx2_row_kernel(w.type) : scalar_row_kernel(w.type));
#else
  const RowKernel kernel = interleaved ? scalar_interleaved_kernel(w.type) : scalar_row_kernel(w.type);
#endif
  // Each output row is computed by one thread, in an order fixed by the
  // kernel, so results do not depend on the thread count. Grains of 12 rows
  // keep the AVX2 row tiles (4 rows for decode, 3 for prefill) whole; the
  // interleaved kernels need whole groups of 8.
  const int64_t grain = interleaved ? 2 * kInterleaveRows : 12;
  pool.parallel_for(w.rows, grain, [&](int64_t r0, int64_t r1, int) { kernel(task, r0, r1); });
}

}  // namespace tether::kernels
