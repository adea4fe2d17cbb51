#include "cli/bench_tokens.h"

#include <algorithm>
#include <cmath>

#include "common/error.h"
#include "engine/tokenizer/synthetic_text.h"

namespace tether::cli {

std::vector<tokenizer::TokenId> synthetic_token_pool(const tokenizer::Tokenizer& tokenizer,
                                                     int32_t n_vocab, size_t text_bytes,
                                                     uint64_t seed) {
  std::vector<tokenizer::TokenId> pool =
      tokenizer.encode(tokenizer::generate_synthetic_text(text_bytes, seed), {.add_special = false});
  std::erase_if(pool, [&](tokenizer::TokenId id) { return id < 0 || id >= n_vocab; });
  if (pool.empty()) throw_error(ErrorCode::kInternal, "synthetic text gave no tokens");
  return pool;
}

std::vector<tokenizer::TokenId> cut_tokens(const std::vector<tokenizer::TokenId>& pool, size_t offset,
                                           int32_t n) {
  std::vector<tokenizer::TokenId> out;
  out.reserve(static_cast<size_t>(std::max(n, 0)));
  for (int32_t i = 0; i < n; ++i) out.push_back(pool[(offset + static_cast<size_t>(i)) % pool.size()]);
  return out;
}

double quantile(std::vector<double> values, double q) {
  if (values.empty()) return 0.0;
  std::sort(values.begin(), values.end());
  const double rank = std::ceil(q * static_cast<double>(values.size()));
  const size_t index = static_cast<size_t>(std::clamp(rank, 1.0, static_cast<double>(values.size()))) - 1;
  return values[index];
}

}  // namespace tether::cli
