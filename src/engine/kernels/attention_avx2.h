#pragma once

#include <cstdint>

#include "engine/kernels/attention.h"

namespace tether::kernels {

// The AVX2/FMA/F16C twin of attention_range's scalar loop (same algorithm,
// 8 lanes at a time). Only called where best_kernel_path() found AVX2.
void attention_range_avx2(const AttentionTask& task, const kv::KvBlockStorage& kv,
                          int32_t head_begin, int32_t head_end, int32_t token_begin,
                          int32_t token_end);

}  // namespace tether::kernels
