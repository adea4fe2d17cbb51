#include "cli/bench_model.h"

#include <sys/resource.h>

#include <algorithm>
#include <memory>
#include <span>
#include <vector>

#include <fmt/format.h>

#include "cli/bench_tokens.h"
#include "common/error.h"
#include "engine/generation/generator.h"
#include "engine/gguf/gguf_file.h"
#include "engine/kernels/memory_bandwidth.h"
#include "engine/kernels/thread_pool.h"
#include "engine/model/demo_model.h"
#include "engine/model/llama_model.h"
#include "engine/tokenizer/tokenizer.h"

namespace tether::cli {
namespace {

constexpr uint64_t kRssSlackBytes = uint64_t{64} << 20;

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const size_t mid = values.size() / 2;
  return values.size() % 2 == 1 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
}

uint64_t peak_rss_bytes() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<uint64_t>(usage.ru_maxrss) * 1024;  // Linux reports KiB
}

uint64_t matrix_bytes(const kernels::WeightMatrix& w) {
  return static_cast<uint64_t>(w.rows) * w.row_bytes;
}

// Weight bytes one decode step streams: every layer matrix, the output
// matrix, the norms, and one embedding row.
uint64_t weight_bytes_per_token(const model::ModelWeights& weights) {
  uint64_t bytes = matrix_bytes(weights.output) + weights.token_embd.row_bytes +
                   weights.output_norm.size() * sizeof(float);
  for (const model::LayerWeights& layer : weights.layers) {
    for (const kernels::WeightMatrix* w :
         {&layer.wq, &layer.wk, &layer.wv, &layer.wo, &layer.gate, &layer.up, &layer.down}) {
      bytes += matrix_bytes(*w);
    }
    bytes += (layer.attn_norm.size() + layer.ffn_norm.size() + layer.bq.size() + layer.bk.size() +
              layer.bv.size() + layer.q_norm.size() + layer.k_norm.size()) *
             sizeof(float);
  }
  return bytes;
}

struct DecodeStats {
  double tokens_per_s = 0;  // aggregate over the batch
  double ms = 0;
};

}  // namespace

void run_model_bench(const ModelBenchOptions& options) {
  if (options.threads < 0 || options.threads > 1024) {
    throw_error(ErrorCode::kInvalidArgument, "--threads must be in [0, 1024], got {}", options.threads);
  }
  if (options.prefill_tokens < 1 || options.decode_tokens < 2 || options.decode_prompt_tokens < 1) {
    throw_error(ErrorCode::kInvalidArgument,
                "--prefill-tokens must be >= 1, --decode-tokens >= 2 and the decode prompt >= 1");
  }
  if (options.repeats < 1 || options.repeats > 100) {
    throw_error(ErrorCode::kInvalidArgument, "--repeats must be in [1, 100], got {}", options.repeats);
  }
  if (options.bandwidth_mb < 1 || options.bandwidth_mb > (int64_t{1} << 16)) {
    throw_error(ErrorCode::kInvalidArgument, "--bandwidth-mb must be in [1, 65536], got {}",
                options.bandwidth_mb);
  }
  for (const int32_t batch : options.batch_sizes) {
    if (batch < 1 || batch > 256) {
      throw_error(ErrorCode::kInvalidArgument, "--batch sizes must be in [1, 256], got {}", batch);
    }
  }

  auto file = std::make_shared<const gguf::GgufFile>(
      gguf::GgufFile::open(model::resolve_model_path(options.model_path)));
  const tokenizer::Tokenizer tok = tokenizer::Tokenizer::from_gguf(*file);
  model::LlamaModel model = model::LlamaModel::load(file);
  kernels::ThreadPool pool(options.threads);
  const model::ModelConfig& config = model.config();
  const int32_t longest = std::max(options.prefill_tokens, options.decode_prompt_tokens + options.decode_tokens);
  if (config.context_length > 0 && longest >= config.context_length) {
    throw_error(ErrorCode::kInvalidArgument, "the workloads need {} positions; the model's context holds {}",
                longest, config.context_length);
  }

  const std::vector<tokenizer::TokenId> text_tokens = synthetic_token_pool(tok, config.vocab_size, 64 * 1024, 7);

  // Default options: prompts prefill in the generator's chunks, as for users.
  generation::Generator generator(model, tok, pool);
  size_t max_kv_bytes = 0;

  // Greedy and past EOS: every run does the same, full amount of work.
  // Prompts are slices of tokenized synthetic text (no BOS), a different
  // slice per sequence, so batched prompts differ.
  const auto make_request = [&](size_t offset, int32_t n_prompt, int32_t max_tokens) {
    generation::GenerationRequest request;
    request.prompt_tokens = cut_tokens(text_tokens, offset, n_prompt);
    request.max_tokens = max_tokens;
    request.sampling.temperature = 0.0f;
    request.sampling.ignore_eos = true;
    return request;
  };

  const auto run_prefill = [&] {
    const generation::GenerationRequest request = make_request(0, options.prefill_tokens, 1);
    const auto results = generator.generate(std::span(&request, 1));
    max_kv_bytes = std::max(max_kv_bytes, generator.last_kv_bytes());
    return options.prefill_tokens * 1000.0 / results.front().usage.prefill_ms;
  };
  const auto run_decode = [&](int32_t batch) {
    std::vector<generation::GenerationRequest> requests;
    for (int32_t i = 0; i < batch; ++i) {
      requests.push_back(make_request(static_cast<size_t>(i) * 97, options.decode_prompt_tokens,
                                      options.decode_tokens));
    }
    const auto results = generator.generate(requests);
    max_kv_bytes = std::max(max_kv_bytes, generator.last_kv_bytes());
    // Every sequence's first token comes from the prefill step; the rest are
    // decode steps that all sequences share.
    double decoded = 0;
    double ms = 0;
    for (const auto& result : results) {
      decoded += result.usage.completion_tokens - 1;
      ms = std::max(ms, result.usage.decode_ms);
    }
    return DecodeStats{.tokens_per_s = decoded * 1000.0 / ms, .ms = ms};
  };

  // One untimed warm-up faults the weights in and sizes the scratch buffers.
  run_decode(1);
  std::vector<double> prefill_runs;
  std::vector<double> decode_runs;
  std::vector<std::vector<double>> batch_runs(options.batch_sizes.size());
  for (int r = 0; r < options.repeats; ++r) {
    prefill_runs.push_back(run_prefill());
    decode_runs.push_back(run_decode(1).tokens_per_s);
    for (size_t b = 0; b < options.batch_sizes.size(); ++b) {
      batch_runs[b].push_back(run_decode(options.batch_sizes[b]).tokens_per_s);
    }
  }
  // Before the bandwidth probe, whose buffer would otherwise set the peak.
  const uint64_t rss_bytes = peak_rss_bytes();

  const double bandwidth_gbps = kernels::measure_read_bandwidth_gbps(
      pool, static_cast<size_t>(options.bandwidth_mb) << 20, std::max(3, options.repeats));
  uint64_t tensor_bytes = 0;
  for (const auto& tensor : file->tensors()) tensor_bytes += tensor.n_bytes;
  const uint64_t per_token = weight_bytes_per_token(model.weights());
  const double decode_tps = median(decode_runs);
  const double limit_tps = bandwidth_gbps * 1e9 / static_cast<double>(per_token);
  const uint64_t rss_bound = tensor_bytes + max_kv_bytes + kRssSlackBytes;

  std::string batched;
  for (size_t b = 0; b < options.batch_sizes.size(); ++b) {
    const double tps = median(batch_runs[b]);
    batched += fmt::format("{}{{\"sequences\":{},\"tokens_per_s\":{:.2f},\"speedup\":{:.2f}}}",
                           b == 0 ? "" : ",", options.batch_sizes[b], tps, tps / decode_tps);
  }
  fmt::print(
      "{{\"workload\":\"model\",\"model\":\"{}\",\"arch\":\"{}\",\"threads\":{},"
      "\"repeats\":{},\"prefill\":{{\"tokens\":{},\"tokens_per_s\":{:.2f}}},"
      "\"decode\":{{\"prompt_tokens\":{},\"tokens\":{},\"tokens_per_s\":{:.2f},"
      "\"weight_bytes_per_token\":{},\"bandwidth_gbps\":{:.2f},\"limit_tokens_per_s\":{:.2f},"
      "\"fraction_of_limit\":{:.3f}}},\"batched_decode\":[{}],"
      "\"memory\":{{\"peak_rss_bytes\":{},\"weight_bytes\":{},\"kv_bytes\":{},\"bound_bytes\":{},"
      "\"within_bound\":{}}}}}\n",
      file->source_name(), model::architecture_name(config.arch), pool.size(),
      options.repeats, options.prefill_tokens, median(prefill_runs), options.decode_prompt_tokens,
      options.decode_tokens, decode_tps, per_token, bandwidth_gbps, limit_tps, decode_tps / limit_tps,
      batched, rss_bytes, tensor_bytes, max_kv_bytes, rss_bound, rss_bytes <= rss_bound ? "true" : "false");
}

}  // namespace tether::cli
