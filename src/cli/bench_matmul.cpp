#include "cli/bench_matmul.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <random>
#include <sys/resource.h>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "common/error.h"
#include "engine/kernels/interleave.h"
#include "engine/kernels/matmul.h"
#include "engine/kernels/memory_bandwidth.h"
#include "engine/kernels/quantize.h"

namespace tether::cli {
namespace {

using Clock = std::chrono::steady_clock;

// CPU seconds of the whole process (all threads): on a machine whose cores
// are shared, work per CPU second shows the kernels' own speed where wall
// time also counts time the OS gave to others.
double process_cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) * 1e-6;
}

struct Shape {
  const char* name;
  int64_t rows;
  int64_t cols;
  int per_layer;  // how often a 0.5b forward pass multiplies by it per layer
};

// Qwen2-0.5B-like shapes of the `0.5b` make-model preset.
constexpr Shape kShapes[] = {
    {"attn_q/o 896x896", 896, 896, 2},      {"attn_k/v 128x896", 128, 896, 2},
    {"ffn_gate/up 4864x896", 4864, 896, 2}, {"ffn_down 896x4864", 896, 4864, 1},
    {"output 51200x896", 51200, 896, 0},
};
constexpr int kLayers = 24;


struct ShapeResult {
  double seconds;
  double cpu_seconds;  // process CPU seconds per call (median)
  double gbps;
  double gflops;
};

ShapeResult time_shape(const Shape& shape, TensorType type, int tokens, int repeats,
                       size_t working_set_bytes, kernels::KernelPath path, bool pack,
                       kernels::ThreadPool& pool) {
  const size_t row_bytes = kernels::row_bytes(type, shape.cols);
  const size_t matrix_bytes = row_bytes * static_cast<size_t>(shape.rows);
  // Quantize a few random rows and repeat them: quantizing 50k rows would
  // dominate the run, and the kernels' speed does not depend on the values.
  constexpr int64_t kDistinctRows = 64;
  std::mt19937 rng(7);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<uint8_t> distinct(row_bytes * kDistinctRows);
  std::vector<float> src(static_cast<size_t>(shape.cols));
  for (int64_t r = 0; r < kDistinctRows; ++r) {
    for (auto& v : src) v = dist(rng);
    kernels::quantize_row(type, src, std::span<uint8_t>(distinct.data() + r * row_bytes, row_bytes));
  }
  // Enough copies of the matrix that cycling through them reads from memory,
  // as decoding a real model does, instead of from cache.
  const size_t copies = std::max<size_t>(1, (working_set_bytes + matrix_bytes - 1) / matrix_bytes);
  std::vector<uint8_t> weights(matrix_bytes * copies);
  for (size_t r = 0; r < static_cast<size_t>(shape.rows) * copies; ++r) {
    std::memcpy(weights.data() + r * row_bytes, distinct.data() + (r % kDistinctRows) * row_bytes,
                row_bytes);
  }
  // Each copy in the layout the engine's model loader gives it.
  kernels::RowLayout layout = kernels::RowLayout::kRows;
  if (pack) {
    for (size_t c = 0; c < copies; ++c) {
      const kernels::WeightMatrix rows{type, weights.data() + c * matrix_bytes, shape.rows, shape.cols,
                                       row_bytes};
      kernels::PackedMatrix packed = kernels::pack_for_matmul(rows);
      if (packed.matrix.layout == kernels::RowLayout::kRows) break;
      layout = packed.matrix.layout;
      std::memcpy(weights.data() + c * matrix_bytes, packed.matrix.data, matrix_bytes);
    }
  }
  std::vector<float> x(static_cast<size_t>(tokens * shape.cols));
  for (auto& v : x) v = dist(rng);
  std::vector<float> y(static_cast<size_t>(tokens * shape.rows));

  // Enough calls per timing that short shapes are not all clock noise.
  const double flops = 2.0 * static_cast<double>(shape.rows * shape.cols) * tokens;
  const int calls = static_cast<int>(std::clamp(2e9 / std::max(flops, 1.0), 1.0, 2000.0));
  std::vector<double> per_call;
  std::vector<double> cpu_per_call;
  size_t copy = 0;
  for (int rep = 0; rep <= repeats; ++rep) {
    const auto start = Clock::now();
    const double cpu_start = process_cpu_seconds();
    for (int c = 0; c < calls; ++c) {
      const kernels::WeightMatrix w{type, weights.data() + copy * matrix_bytes, shape.rows,
                                    shape.cols, row_bytes, layout};
      copy = (copy + 1) % copies;
      kernels::matmul(w, x.data(), tokens, shape.cols, y.data(), shape.rows, pool, path);
    }
    const double s = std::chrono::duration<double>(Clock::now() - start).count() / calls;
    const double cpu = (process_cpu_seconds() - cpu_start) / calls;
    if (rep > 0) {  // the first round warms up
      per_call.push_back(s);
      cpu_per_call.push_back(cpu);
    }
  }
  std::sort(per_call.begin(), per_call.end());
  std::sort(cpu_per_call.begin(), cpu_per_call.end());
  const double seconds = per_call[per_call.size() / 2];
  return {seconds, cpu_per_call[cpu_per_call.size() / 2],
          static_cast<double>(matrix_bytes) / seconds / 1e9, flops / seconds / 1e9};
}

}  // namespace

void run_matmul_bench(const MatmulBenchOptions& options) {
  if (options.threads < 1 || options.threads > 256) {
    throw_error(ErrorCode::kInvalidArgument, "--threads must be in [1, 256], got {}", options.threads);
  }
  if (options.tokens < 1 || options.tokens > 4096) {
    throw_error(ErrorCode::kInvalidArgument, "--tokens must be in [1, 4096], got {}", options.tokens);
  }
  if (options.repeats < 1 || options.repeats > 1000) {
    throw_error(ErrorCode::kInvalidArgument, "--repeats must be in [1, 1000], got {}", options.repeats);
  }
  if (options.probe_mb < 1 || options.probe_mb > 65536 || options.working_set_mb < 0 ||
      options.working_set_mb > 65536) {
    throw_error(ErrorCode::kInvalidArgument, "--probe-mb must be in [1, 65536] and --working-set-mb in [0, 65536]");
  }
  const size_t probe_bytes = static_cast<size_t>(options.probe_mb) << 20;
  const size_t working_set = static_cast<size_t>(options.working_set_mb) << 20;
  std::vector<TensorType> types;
  if (options.type == "all") {
    types = {TensorType::kQ8_0, TensorType::kQ4_0, TensorType::kQ4_K, TensorType::kQ6_K,
             TensorType::kF16,  TensorType::kBF16, TensorType::kF32};
  } else {
    const auto parsed = parse_tensor_type(options.type);
    if (!parsed || !kernels::supports_matmul(*parsed)) {
      throw_error(ErrorCode::kInvalidArgument, "--type {} is not a matmul weight type", options.type);
    }
    types = {*parsed};
  }
  kernels::KernelPath path = kernels::best_kernel_path();
  if (options.path == "scalar") {
    path = kernels::KernelPath::kScalar;
  } else if (options.path == "avx2") {
    if (path != kernels::KernelPath::kAvx2) {
      throw_error(ErrorCode::kUnsupported, "this CPU lacks AVX2/FMA/F16C");
    }
  } else if (options.path != "best") {
    throw_error(ErrorCode::kInvalidArgument, "--path must be best, avx2 or scalar");
  }

  kernels::ThreadPool pool(options.threads);
  const double bandwidth = kernels::measure_read_bandwidth_gbps(pool, probe_bytes, 5);
  std::string out = fmt::format(
      "{{\"workload\":\"matmul\",\"path\":\"{}\",\"layout\":\"{}\",\"threads\":{},\"tokens\":{},\"repeats\":{},"
      "\"bandwidth_gbps\":{:.2f},\"types\":[",
      kernels::kernel_path_name(path), options.layout, options.threads, options.tokens, options.repeats, bandwidth);
  for (size_t ti = 0; ti < types.size(); ++ti) {
    const TensorType type = types[ti];
    out += fmt::format("{}{{\"type\":\"{}\",\"shapes\":[", ti ? "," : "", tensor_type_name(type));
    double pass_seconds = 0.0;
    double pass_bytes = 0.0;
    double pass_flops = 0.0;
    for (size_t si = 0; si < std::size(kShapes); ++si) {
      const Shape& shape = kShapes[si];
      // Like make-model (and llama.cpp's quantizer), rows whose length is not
      // a multiple of 256 fall back from the k-quants to a 32-block type.
      TensorType used = type;
      if (shape.cols % traits_of(type).block_elems != 0) {
        used = type == TensorType::kQ4_K ? TensorType::kQ4_0 : TensorType::kQ8_0;
      }
      // The cores and memory are often shared: a probe right before each
      // shape makes its bandwidth fraction compare like with like.
      const double local_bandwidth = kernels::measure_read_bandwidth_gbps(pool, std::max<size_t>(probe_bytes / 2, 4096), 3);
      const ShapeResult r = time_shape(shape, used, options.tokens, options.repeats, working_set, path,
                                     options.layout == "best", pool);
      const int uses = shape.per_layer == 0 ? 1 : shape.per_layer * kLayers;
      pass_seconds += uses * r.seconds;
      pass_bytes += uses * static_cast<double>(kernels::row_bytes(used, shape.cols) * shape.rows);
      pass_flops += uses * 2.0 * static_cast<double>(shape.rows * shape.cols) * options.tokens;
      out += fmt::format(
          "{}{{\"shape\":\"{}\",\"weight_type\":\"{}\",\"us_per_call\":{:.1f},\"gbps\":{:.2f},\"bandwidth_fraction\":{:.3f},"
          "\"gflops\":{:.1f},\"gflops_per_cpu_s\":{:.1f},\"bandwidth_gbps_before\":{:.2f},"
          "\"bandwidth_fraction_before\":{:.3f}}}",
          si ? "," : "", shape.name, tensor_type_name(used), r.seconds * 1e6, r.gbps, r.gbps / bandwidth, r.gflops,
          2.0 * static_cast<double>(shape.rows * shape.cols) * options.tokens / r.cpu_seconds / 1e9,
          local_bandwidth, r.gbps / local_bandwidth);
    }
    const double pass_gbps = pass_bytes / pass_seconds / 1e9;
    out += fmt::format(
        "],\"forward_pass_estimate\":{{\"seconds\":{:.5f},\"tokens_per_s\":{:.1f},\"gbps\":{:.2f},"
        "\"bandwidth_fraction\":{:.3f},\"gflops\":{:.1f}}}}}",
        pass_seconds, options.tokens / pass_seconds, pass_gbps, pass_gbps / bandwidth,
        pass_flops / pass_seconds / 1e9);
  }
  out += "]}\n";
  fmt::print("{}", out);
}

}  // namespace tether::cli
