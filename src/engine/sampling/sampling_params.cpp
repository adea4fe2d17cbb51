#include "engine/sampling/sampling_params.h"

#include <cmath>

#include "common/error.h"

namespace tether::sampling {

namespace {
constexpr int32_t kMaxLogprobs = 20;  // OpenAI's limit for top_logprobs
}

void validate(const SamplingParams& params, int32_t n_vocab) {
  const auto bad = [](const char* name, auto value, const char* range) {
    throw_error(ErrorCode::kInvalidArgument, "{} must be {}, got {}", name, range, value);
  };
  if (!(params.temperature >= 0.0f && params.temperature <= 100.0f)) {
    bad("temperature", params.temperature, "in [0, 100]");
  }
  if (params.top_k < 0) bad("top_k", params.top_k, ">= 0");
  if (!(params.top_p > 0.0f && params.top_p <= 1.0f)) bad("top_p", params.top_p, "in (0, 1]");
  if (!(params.min_p >= 0.0f && params.min_p <= 1.0f)) bad("min_p", params.min_p, "in [0, 1]");
  if (!(params.repetition_penalty > 0.0f && std::isfinite(params.repetition_penalty))) {
    bad("repetition_penalty", params.repetition_penalty, "> 0");
  }
  if (params.repetition_last_n < -1) bad("repetition_last_n", params.repetition_last_n, ">= -1");
  if (!(params.frequency_penalty >= -2.0f && params.frequency_penalty <= 2.0f)) {
    bad("frequency_penalty", params.frequency_penalty, "in [-2, 2]");
  }
  if (!(params.presence_penalty >= -2.0f && params.presence_penalty <= 2.0f)) {
    bad("presence_penalty", params.presence_penalty, "in [-2, 2]");
  }
  if (params.n_logprobs < 0 || params.n_logprobs > kMaxLogprobs) {
    bad("n_logprobs", params.n_logprobs, "in [0, 20]");
  }
  for (const auto& [id, bias] : params.logit_bias) {
    if (id < 0 || id >= n_vocab) {
      throw_error(ErrorCode::kInvalidArgument, "logit_bias token id {} is outside the vocabulary (0..{})",
                  id, n_vocab - 1);
    }
    if (std::isnan(bias) || bias == std::numeric_limits<float>::infinity()) {
      throw_error(ErrorCode::kInvalidArgument, "logit_bias for token {} must be a number or -inf", id);
    }
  }
}

}  // namespace tether::sampling
