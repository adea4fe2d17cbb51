#include <chrono>
#include <optional>
#include <string>

#include <fmt/format.h>

#include "cli/commands.h"
#include "common/error.h"
#include "engine/model/model_maker.h"

namespace tether::cli {
namespace {

struct MakeModelArgs {
  std::string preset = "tiny";
  std::string arch = "llama";
  std::string rope_scaling = "none";
  float rope_scale_factor = 1.0f;
  uint32_t rope_original_context = 0;
  std::string type = "q8_0";
  uint64_t seed = 1;
  std::string vocab;
  std::string output;
  std::string name;
  unsigned threads = 0;
  std::optional<uint32_t> vocab_size;
  std::optional<uint32_t> hidden, layers, heads, kv_heads, ffn, context;
  std::optional<float> rope_base;
  bool tied_output = false;
  bool untied_output = false;
};

std::string human_count(uint64_t n) {
  if (n >= 1'000'000'000) return fmt::format("{:.2f}B", n / 1e9);
  if (n >= 1'000'000) return fmt::format("{:.1f}M", n / 1e6);
  if (n >= 1'000) return fmt::format("{:.1f}K", n / 1e3);
  return std::to_string(n);
}

std::string human_bytes(uint64_t n) {
  if (n >= (uint64_t{1} << 30)) return fmt::format("{:.2f} GiB", n / double(uint64_t{1} << 30));
  if (n >= (uint64_t{1} << 20)) return fmt::format("{:.1f} MiB", n / double(uint64_t{1} << 20));
  if (n >= (uint64_t{1} << 10)) return fmt::format("{:.1f} KiB", n / double(uint64_t{1} << 10));
  return fmt::format("{} B", n);
}

void run_make_model(const MakeModelArgs& args, CommandResult& result) {
  model::MakeModelOptions options;
  options.shape = model::model_shape_preset(args.preset);
  auto parsed_type = parse_tensor_type(args.type);
  if (!parsed_type) {
    throw_error(ErrorCode::kInvalidArgument, "unknown tensor type '{}' (use one of {})", args.type,
                model::writable_matrix_types());
  }
  options.type = *parsed_type;
  if (args.arch == "llama") {
    options.arch = model::Architecture::kLlama;
  } else if (args.arch == "qwen2") {
    options.arch = model::Architecture::kQwen2;
  } else if (args.arch == "qwen3") {
    options.arch = model::Architecture::kQwen3;
  } else {
    throw_error(ErrorCode::kInvalidArgument, "unknown architecture '{}' (use llama, qwen2 or qwen3)",
                args.arch);
  }
  options.rope_scaling.type = args.rope_scaling;
  options.rope_scaling.factor = args.rope_scale_factor;
  options.rope_scaling.original_context = args.rope_original_context;
  options.seed = args.seed;
  options.vocab_path = args.vocab;
  options.name = args.name;
  options.threads = args.threads;

  auto& shape = options.shape;
  if (args.hidden) shape.hidden = *args.hidden;
  if (args.layers) shape.layers = *args.layers;
  if (args.heads) shape.heads = *args.heads;
  if (args.kv_heads) shape.kv_heads = *args.kv_heads;
  if (args.ffn) shape.ffn = *args.ffn;
  if (args.context) shape.context = *args.context;
  if (args.rope_base) shape.rope_base = *args.rope_base;
  if (args.vocab_size) {
    if (!args.vocab.empty()) {
      throw_error(ErrorCode::kInvalidArgument,
                  "--vocab-size sizes the built-in vocabulary; a --vocab file brings its own");
    }
    shape.vocab_size = *args.vocab_size;
  }
  if (args.tied_output) shape.tied_output = true;
  if (args.untied_output) shape.tied_output = false;

  auto start = std::chrono::steady_clock::now();
  model::ModelMaker maker(std::move(options));
  if (auto note = maker.fallback_summary(); !note.empty()) fmt::print("note: {}\n", note);
  maker.write_file(args.output);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  std::error_code ec;
  uint64_t file_bytes = std::filesystem::file_size(args.output, ec);
  const auto& written = maker.options();
  fmt::print(
      "wrote {}: {} {} params, {} ({} bytes), {} (file type {}), vocab {} ({}), {} layers x {} hidden, "
      "{} heads / {} kv, ffn {}, context {}{}, seed {}, {:.2f} s\n",
      args.output, model::architecture_name(written.arch), human_count(maker.n_params()), human_bytes(file_bytes), file_bytes,
      tensor_type_name(written.type), maker.file_type(), maker.vocab_size(),
      maker.vocab_description(), written.shape.layers,
      written.shape.hidden, written.shape.heads, written.shape.kv_heads, written.shape.ffn,
      written.shape.context, written.shape.tied_output ? ", tied output" : "", written.seed,
      seconds);
  result.exit_code = 0;
}

}  // namespace

void add_make_model_command(CLI::App& app, CommandResult& result) {
  auto args = std::make_shared<MakeModelArgs>();
  auto* cmd = app.add_subcommand(
      "make-model",
      "Write a llama / qwen2 / qwen3 GGUF with seeded random weights (test and demo models)");
  cmd->add_option("-o,--output", args->output, "Output .gguf path")->required();
  cmd->add_option("--preset", args->preset, "Shape preset: tiny or 0.5b")->capture_default_str();
  cmd->add_option("--arch", args->arch,
                  "Architecture: llama, qwen2 (Q/K/V biases) or qwen3 (per-head Q/K norms)")
      ->capture_default_str();
  cmd->add_option("--rope-scaling", args->rope_scaling,
                  "RoPE scaling recorded in the file: none, linear, yarn or llama3 (rope_freqs "
                  "tensor)")
      ->capture_default_str();
  cmd->add_option("--rope-scale-factor", args->rope_scale_factor, "RoPE scaling factor")
      ->capture_default_str();
  cmd->add_option("--rope-original-context", args->rope_original_context,
                  "Original context length for RoPE scaling (default: --context)");
  cmd->add_option("--type", args->type,
                  "Type of the weight matrices: f32, f16, bf16, q8_0, q4_0, q4_K, q6_K")
      ->capture_default_str();
  cmd->add_option("--seed", args->seed, "Random seed")->capture_default_str();
  cmd->add_option("--vocab", args->vocab,
                  "Copy the tokenizer.* keys of this GGUF (default: the built-in vocabulary)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--vocab-size", args->vocab_size,
                  "Size of the built-in vocabulary (padded with reserved control tokens)");
  cmd->add_option("--name", args->name, "general.name (default: derived from shape and seed)");
  cmd->add_option("--threads", args->threads, "Threads generating weights (0: all cores)");
  cmd->add_option("--hidden", args->hidden, "Embedding length");
  cmd->add_option("--layers", args->layers, "Number of blocks");
  cmd->add_option("--heads", args->heads, "Query heads");
  cmd->add_option("--kv-heads", args->kv_heads, "Key/value heads");
  cmd->add_option("--ffn", args->ffn, "Feed-forward length");
  cmd->add_option("--context", args->context, "Context length");
  cmd->add_option("--rope-base", args->rope_base, "RoPE frequency base");
  auto* tied = cmd->add_flag("--tied-output", args->tied_output,
                             "No output.weight: logits reuse token_embd.weight");
  cmd->add_flag("--untied-output", args->untied_output, "Write a separate output.weight")
      ->excludes(tied);
  cmd->callback([args, &result] { run_make_model(*args, result); });
}

}  // namespace tether::cli
