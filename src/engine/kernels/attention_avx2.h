#pragma once

#include <cstdint>

#include "engine/kernels/attention.h"

namespace tether::kernels {

// Whether attention_group_avx2 handles this shape (head_dim a multiple of 8).
bool attention_avx2_supports(const kv::KvShape& shape);

// Every query head of KV head `kv_head` for tokens [token_begin, token_end)
// of `task`, with AVX2/FMA/F16C. Only called where best_kernel_path() found
// AVX2 and attention_avx2_supports(shape) holds.
void attention_group_avx2(const AttentionTask& task, const kv::KvBlockStorage& kv, int32_t kv_head,
                          int32_t token_begin, int32_t token_end);

}  // namespace tether::kernels
