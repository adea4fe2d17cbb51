#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "cli/commands.h"
#include "common/error.h"
#include "engine/generation/generator.h"
#include "engine/gguf/gguf_file.h"
#include "engine/kernels/thread_pool.h"
#include "engine/model/demo_model.h"
#include "engine/model/llama_model.h"
#include "engine/tokenizer/tokenizer.h"

namespace tether::cli {
namespace {

struct GenerateOptions {
  std::string model_path;
  std::string prompt;
  int32_t max_tokens = 128;
  float temperature = 0.8f;
  int32_t top_k = 40;
  float top_p = 0.95f;
  float min_p = 0.05f;
  float repeat_penalty = 1.0f;
  int32_t repeat_last_n = 64;
  float frequency_penalty = 0.0f;
  float presence_penalty = 0.0f;
  int64_t seed = -1;
  int threads = 0;
  std::vector<std::string> stops;
  bool chat = false;
  bool ignore_eos = false;
};

// The ChatML turn markers around one user message. A full chat-template
// renderer comes later; this covers the models whose vocabulary has them.
std::string wrap_chatml(const tokenizer::Tokenizer& tok, const std::string& prompt) {
  if (tok.vocab().find("<|im_start|>") == tokenizer::kNoToken ||
      tok.vocab().find("<|im_end|>") == tokenizer::kNoToken) {
    throw_error(ErrorCode::kUnsupported,
                "--chat needs ChatML markers (<|im_start|>, <|im_end|>) in the model's vocabulary");
  }
  return "<|im_start|>user\n" + prompt + "<|im_end|>\n<|im_start|>assistant\n";
}

void run_generate(const GenerateOptions& options) {
  if (options.threads < 0 || options.threads > 1024) {
    throw_error(ErrorCode::kInvalidArgument, "--threads must be in [0, 1024], got {}", options.threads);
  }
  auto file = std::make_shared<const gguf::GgufFile>(
      gguf::GgufFile::open(model::resolve_model_path(options.model_path)));
  const tokenizer::Tokenizer tok = tokenizer::Tokenizer::from_gguf(*file);
  model::LlamaModel model = model::LlamaModel::load(file);
  kernels::ThreadPool pool(options.threads);

  generation::GenerationRequest request;
  request.prompt = options.chat ? wrap_chatml(tok, options.prompt) : options.prompt;
  request.parse_special = options.chat;
  request.max_tokens = options.max_tokens;
  request.stop = options.stops;
  sampling::SamplingParams& sampling = request.sampling;
  sampling.temperature = options.temperature;
  sampling.top_k = options.top_k;
  sampling.top_p = options.top_p;
  sampling.min_p = options.min_p;
  sampling.repetition_penalty = options.repeat_penalty;
  sampling.repetition_last_n = options.repeat_last_n;
  sampling.frequency_penalty = options.frequency_penalty;
  sampling.presence_penalty = options.presence_penalty;
  sampling.ignore_eos = options.ignore_eos;
  sampling.seed = options.seed >= 0 ? static_cast<uint64_t>(options.seed)
                                    : (static_cast<uint64_t>(std::random_device{}()) << 32) ^
                                          std::random_device{}();

  generation::Generator generator(model, tok, pool);
  const std::vector<generation::GenerationResult> results =
      generator.generate(std::span<const generation::GenerationRequest>(&request, 1),
                         [](size_t, std::string_view text) {
                           std::fwrite(text.data(), 1, text.size(), stdout);
                           std::fflush(stdout);
                         });
  const generation::GenerationResult& result = results.front();
  std::fputc('\n', stdout);
  std::fflush(stdout);

  const generation::GenerationUsage& usage = result.usage;
  const int32_t decoded = usage.completion_tokens - 1;  // the first comes from prefill
  const double prefill_tps = usage.prefill_ms > 0 ? usage.prompt_tokens * 1000.0 / usage.prefill_ms : 0;
  const double decode_tps = decoded > 0 && usage.decode_ms > 0 ? decoded * 1000.0 / usage.decode_ms : 0;
  fmt::print(stderr,
             "prompt {} tokens, generated {} tokens ({}), prefill {:.1f} tok/s, decode {:.1f} tok/s, "
             "ttft {:.0f} ms, threads {}, seed {}\n",
             usage.prompt_tokens, usage.completion_tokens, finish_reason_name(result.finish_reason),
             prefill_tps, decode_tps, usage.ttft_ms, pool.size(), sampling.seed);
}

}  // namespace

void add_generate_command(CLI::App& app, CommandResult& result) {
  auto options = std::make_shared<GenerateOptions>();
  CLI::App* command = app.add_subcommand(
      "generate",
      "Generate text from a prompt, streaming it to stdout; a summary goes to stderr.\n"
      "--chat wraps the prompt in ChatML turn markers when the vocabulary has them\n"
      "(a full chat-template renderer comes later).");
  command->add_option("--model,-m", options->model_path, "GGUF file, or \"demo\"")->required();
  command->add_option("--prompt,-p", options->prompt, "The prompt text")->required();
  command->add_option("-n,--max-tokens", options->max_tokens, "Most tokens to generate")
      ->check(CLI::Range(1, 1 << 20))
      ->capture_default_str();
  command->add_option("--temp", options->temperature, "Temperature; 0 = greedy")->capture_default_str();
  command->add_option("--top-k", options->top_k, "Keep the k most likely tokens; 0 = off")
      ->capture_default_str();
  command->add_option("--top-p", options->top_p, "Nucleus: smallest set with mass >= p; 1 = off")
      ->capture_default_str();
  command->add_option("--min-p", options->min_p, "Drop tokens below min_p * the top probability")
      ->capture_default_str();
  command->add_option("--repeat-penalty", options->repeat_penalty, "llama-style repetition penalty; 1 = off")
      ->capture_default_str();
  command->add_option("--repeat-last-n", options->repeat_last_n, "Tokens the repetition penalty looks back")
      ->capture_default_str();
  command->add_option("--frequency-penalty", options->frequency_penalty, "OpenAI frequency penalty")
      ->capture_default_str();
  command->add_option("--presence-penalty", options->presence_penalty, "OpenAI presence penalty")
      ->capture_default_str();
  command->add_option("--seed,-s", options->seed, "Random seed; -1 = a fresh one")->capture_default_str();
  command->add_option("--threads,-t", options->threads, "Compute threads; 0 = one per hardware thread")
      ->capture_default_str();
  command->add_option("--stop", options->stops, "Stop string (repeatable); not printed");
  command->add_flag("--chat", options->chat, "Wrap the prompt as one ChatML user turn");
  command->add_flag("--ignore-eos", options->ignore_eos, "Keep generating past end-of-text tokens");
  command->callback([options, &result] {
    run_generate(*options);
    result.exit_code = 0;
  });
}

}  // namespace tether::cli
