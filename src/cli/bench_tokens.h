#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "engine/tokenizer/tokenizer.h"

namespace tether::cli {

// Token ids of `text_bytes` of generated text (synthetic_text.h), without
// specials and limited to ids below n_vocab: the pool benchmark prompts are
// cut from, so they read like text to the tokenizer and the model. Throws
// Error(kInternal) if nothing is left.
std::vector<tokenizer::TokenId> synthetic_token_pool(const tokenizer::Tokenizer& tokenizer,
                                                     int32_t n_vocab, size_t text_bytes,
                                                     uint64_t seed);

// n tokens of the pool from `offset` on, wrapping around.
std::vector<tokenizer::TokenId> cut_tokens(const std::vector<tokenizer::TokenId>& pool, size_t offset,
                                           int32_t n);

// The q-quantile (0..1) of `values` by nearest rank; 0 for none.
double quantile(std::vector<double> values, double q);

}  // namespace tether::cli
