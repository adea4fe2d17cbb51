#include "engine/sampling/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "common/error.h"

namespace tether::sampling {

namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// A strict total order (logit descending, then id ascending) so the kept set
// and its order never depend on the selection algorithm's tie handling.
bool more_likely(TokenId a_id, float a_logit, TokenId b_id, float b_logit) {
  return a_logit > b_logit || (a_logit == b_logit && a_id < b_id);
}

}  // namespace

Sampler::Sampler(SamplingParams params, int32_t n_vocab)
    : params_(std::move(params)), n_vocab_(n_vocab), rng_(params_.seed) {
  if (n_vocab_ <= 0) throw_error(ErrorCode::kInvalidArgument, "sampler needs a vocabulary, got {} tokens", n_vocab_);
  validate(params_, n_vocab_);
}

void Sampler::add_prompt(std::span<const TokenId> tokens) {
  for (const TokenId id : tokens) remember(id);
}

void Sampler::accept(TokenId id) {
  remember(id);
  ++generated_counts_[id];
}

void Sampler::remember(TokenId id) {
  const int32_t last_n = params_.repetition_last_n;
  if (last_n == 0 || params_.repetition_penalty == 1.0f) return;
  window_.push_back(id);
  ++window_counts_[id];
  if (last_n > 0 && window_.size() > static_cast<size_t>(last_n)) {
    const TokenId oldest = window_.front();
    window_.pop_front();
    if (--window_counts_[oldest] == 0) window_counts_.erase(oldest);
  }
}

void Sampler::apply_penalties_and_bias() {
  const float repetition = params_.repetition_penalty;
  if (repetition != 1.0f) {
    for (const auto& [id, count] : window_counts_) {
      if (id < 0 || id >= n_vocab_) continue;
      float& logit = work_[static_cast<size_t>(id)];
      logit = logit > 0.0f ? logit / repetition : logit * repetition;
    }
  }
  if (params_.frequency_penalty != 0.0f || params_.presence_penalty != 0.0f) {
    for (const auto& [id, count] : generated_counts_) {
      if (id < 0 || id >= n_vocab_) continue;
      work_[static_cast<size_t>(id)] -=
          static_cast<float>(count) * params_.frequency_penalty + params_.presence_penalty;
    }
  }
  for (const auto& [id, bias] : params_.logit_bias) work_[static_cast<size_t>(id)] += bias;
}

SampledToken Sampler::sample(std::span<const float> logits) {
  if (logits.size() != static_cast<size_t>(n_vocab_)) {
    throw_error(ErrorCode::kInvalidArgument, "logits row has {} values, the vocabulary {}",
                logits.size(), n_vocab_);
  }
  const size_t n = logits.size();
  work_.resize(n);
  // A NaN (a broken model) must not win comparisons; treat it as impossible.
  for (size_t i = 0; i < n; ++i) work_[i] = std::isnan(logits[i]) ? kNegInf : logits[i];
  apply_penalties_and_bias();

  const bool greedy = params_.temperature == 0.0f;
  if (!greedy && params_.temperature != 1.0f) {
    const float inv_temperature = 1.0f / params_.temperature;
    for (float& logit : work_) logit *= inv_temperature;
  }

  // Argmax with ties to the lowest id; also the softmax's stabiliser.
  size_t best = 0;
  for (size_t i = 1; i < n; ++i) {
    if (work_[i] > work_[best]) best = i;
  }
  const float max_logit = work_[best];
  if (max_logit == kNegInf) throw_error(ErrorCode::kInvalidArgument, "every token is banned; nothing to sample");
  if (std::isinf(max_logit)) throw_error(ErrorCode::kInvalidArgument, "a logit is +infinity; cannot sample");

  SampledToken result;
  if (greedy) {
    result.id = static_cast<TokenId>(best);
  } else {
    candidates_.clear();
    candidates_.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      if (work_[i] != kNegInf) candidates_.push_back({static_cast<TokenId>(i), work_[i]});
    }
    result.id = draw(candidates_, max_logit);
  }
  if (params_.logprobs || params_.n_logprobs > 0) {
    double sum = 0.0;
    for (const float logit : work_) sum += std::exp(static_cast<double>(logit - max_logit));
    const float log_sum_exp = max_logit + static_cast<float>(std::log(sum));
    result.logprob = work_[static_cast<size_t>(result.id)] - log_sum_exp;
    if (params_.n_logprobs > 0) result.top_logprobs = top_logprobs(log_sum_exp);
  }
  return result;
}

TokenId Sampler::draw(std::vector<Candidate>& candidates, float max_logit) {
  const auto by_likelihood = [](const Candidate& a, const Candidate& b) {
    return more_likely(a.id, a.logit, b.id, b.logit);
  };
  // Top-k: linear-time selection, then sort only the k kept.
  bool sorted = false;
  if (params_.top_k > 0 && static_cast<size_t>(params_.top_k) < candidates.size()) {
    const auto kth = candidates.begin() + params_.top_k;
    std::nth_element(candidates.begin(), kth, candidates.end(), by_likelihood);
    candidates.resize(static_cast<size_t>(params_.top_k));
    std::sort(candidates.begin(), candidates.end(), by_likelihood);
    sorted = true;
  }

  // Top-p over the top-k survivors' distribution: sort a growing prefix until
  // it holds enough mass, so a peaked distribution never sorts the vocabulary.
  if (params_.top_p < 1.0f) {
    double total = 0.0;
    for (const Candidate& c : candidates) total += std::exp(static_cast<double>(c.logit - max_logit));
    const double target = static_cast<double>(params_.top_p) * total;
    size_t prefix = std::min<size_t>(candidates.size(), 64);
    while (true) {
      if (!sorted) {
        std::partial_sort(candidates.begin(), candidates.begin() + static_cast<ptrdiff_t>(prefix),
                          candidates.end(), by_likelihood);
      }
      double cumulative = 0.0;
      size_t keep = 0;
      while (keep < prefix && cumulative < target) {
        cumulative += std::exp(static_cast<double>(candidates[keep].logit - max_logit));
        ++keep;
      }
      if (cumulative >= target || prefix == candidates.size()) {
        candidates.resize(std::max<size_t>(keep, 1));
        break;
      }
      prefix = std::min(candidates.size(), prefix * 8);
    }
  }

  // Min-p: p_i >= min_p * p_max  <=>  logit_i >= max + log(min_p). Filtering
  // keeps order, and the most likely token always survives.
  if (params_.min_p > 0.0f) {
    const float threshold = max_logit + std::log(params_.min_p);
    std::erase_if(candidates, [&](const Candidate& c) { return c.logit < threshold; });
  }

  double total = 0.0;
  for (const Candidate& c : candidates) total += std::exp(static_cast<double>(c.logit - max_logit));
  const double target = rng_.next_unit_double() * total;
  double cumulative = 0.0;
  for (const Candidate& c : candidates) {
    cumulative += std::exp(static_cast<double>(c.logit - max_logit));
    if (target < cumulative) return c.id;
  }
  return candidates.back().id;  // rounding left target at the very top
}

std::vector<TokenLogprob> Sampler::top_logprobs(float log_sum_exp) {
  const size_t n_top = std::min<size_t>(static_cast<size_t>(params_.n_logprobs), work_.size());
  // A small sorted list beats a full selection: n_top <= 20.
  std::vector<TokenLogprob> top;
  top.reserve(n_top + 1);
  for (size_t i = 0; i < work_.size(); ++i) {
    const float logit = work_[i];
    const auto id = static_cast<TokenId>(i);
    if (top.size() == n_top && !more_likely(id, logit, top.back().id, top.back().logprob)) continue;
    auto pos = std::find_if(top.begin(), top.end(), [&](const TokenLogprob& t) {
      return more_likely(id, logit, t.id, t.logprob);
    });
    top.insert(pos, {id, logit});
    if (top.size() > n_top) top.pop_back();
  }
  for (TokenLogprob& t : top) t.logprob -= log_sum_exp;
  return top;
}

}  // namespace tether::sampling
