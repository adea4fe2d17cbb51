#include <algorithm>
#include <chrono>
#include <ctime>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "cli/bench_agent.h"
#include "cli/bench_agent_http.h"
#include "cli/bench_async.h"
#include "cli/bench_constrain.h"
#include "cli/bench_fleet.h"
#include "cli/bench_http.h"
#include "cli/bench_matmul.h"
#include "cli/bench_model.h"
#include "cli/commands.h"
#include "common/error.h"
#include "engine/gguf/gguf_file.h"
#include "engine/model/demo_model.h"
#include "engine/tokenizer/synthetic_text.h"
#include "engine/tokenizer/tokenizer.h"

namespace tether::cli {
namespace {

struct BenchOptions {
  std::string workload = "model";
  std::string model_path;
  double text_mb = 1.0;
  int repeats = 0;  // 0: the workload's default
  uint64_t seed = 42;
  ModelBenchOptions model;
  MatmulBenchOptions matmul;
  AgentBenchOptions agent;
  std::string url;         // agent through HTTP: the server
  std::string model_name;  // agent through HTTP: the "model" field
  std::string api_key;
  std::string label;
  ConstrainBenchOptions constrain;
  HttpBenchOptions http;
  FleetBenchOptions fleet;
  AsyncBenchOptions async;
  std::string system_prompts;  // "shared" or "distinct"; "" = the workload's default
};

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// CPU time of this thread: unlike wall time it does not grow when other
// processes share the cores, so runs on a busy machine stay comparable.
double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const size_t mid = values.size() / 2;
  return values.size() % 2 == 1 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
}

// Encodes generated text with the model's tokenizer; reports the median of
// `repeats` timed runs (one untimed warm-up first).
void run_tokenize_workload(const BenchOptions& options) {
  if (options.text_mb <= 0 || options.text_mb > 1024) {
    throw_error(ErrorCode::kInvalidArgument, "--text-mb must be in (0, 1024], got {}",
                options.text_mb);
  }
  const int repeats = options.repeats == 0 ? 5 : options.repeats;
  if (repeats < 1 || repeats > 1000) {
    throw_error(ErrorCode::kInvalidArgument, "--repeats must be in [1, 1000], got {}",
                repeats);
  }
  const auto load_start = Clock::now();
  const gguf::GgufFile file = gguf::GgufFile::open(model::resolve_model_path(options.model_path));
  const tokenizer::Tokenizer tok = tokenizer::Tokenizer::from_gguf(file);
  const double load_seconds = seconds_since(load_start);

  const auto n_bytes = static_cast<size_t>(options.text_mb * 1024 * 1024);
  const std::string text = tokenizer::generate_synthetic_text(n_bytes, options.seed);
  const tokenizer::EncodeOptions encode_options{.add_special = false, .parse_special = false};

  size_t n_tokens = tok.encode(text, encode_options).size();
  std::vector<double> timings;
  std::vector<double> cpu_timings;
  for (int i = 0; i < repeats; ++i) {
    const auto start = Clock::now();
    const double cpu_start = thread_cpu_seconds();
    const size_t count = tok.encode(text, encode_options).size();
    cpu_timings.push_back(thread_cpu_seconds() - cpu_start);
    timings.push_back(seconds_since(start));
    if (count != n_tokens) {
      throw_error(ErrorCode::kInternal, "tokenizing the same text gave {} then {} tokens", n_tokens,
                  count);
    }
  }
  const double seconds = median(timings);
  const double cpu_seconds = median(cpu_timings);
  const char* vocab_kind =
      tok.vocab().kind() == tokenizer::VocabKind::kSentencePiece ? "spm" : "bpe";
  fmt::print(
      "{{\"workload\":\"tokenize\",\"model\":\"{}\",\"tokenizer\":\"{}\",\"pre\":\"{}\","
      "\"n_vocab\":{},\"load_seconds\":{:.4f},\"bytes\":{},\"tokens\":{},\"repeats\":{},"
      "\"seconds\":{:.4f},\"tokens_per_s\":{:.0f},\"mb_per_s\":{:.3f},\"cpu_seconds\":{:.4f},"
      "\"tokens_per_cpu_s\":{:.0f}}}\n",
      file.source_name(), vocab_kind, tok.vocab().pre_type(), tok.n_vocab(), load_seconds,
      text.size(), n_tokens, repeats, seconds, static_cast<double>(n_tokens) / seconds,
      static_cast<double>(text.size()) / (1024.0 * 1024.0) / seconds, cpu_seconds,
      static_cast<double>(n_tokens) / cpu_seconds);
}

}  // namespace

void add_bench_command(CLI::App& app, CommandResult& result) {
  auto options = std::make_shared<BenchOptions>();
  CLI::App* command = app.add_subcommand(
      "bench",
      "Measure a workload and print JSON results.\n"
      "model: prefill, decode and batched decode tok/s, peak RSS, and decode against the\n"
      "memory-bandwidth limit measured in the same run. tokenize: tokenizer throughput.\n"
      "matmul: kernel speed per weight type and shape. agent: concurrent multi-turn\n"
      "sessions sharing a system prompt, with prefix caching on and off (TTFT, cached share).\n"
      "constrain: decode with and without a JSON Schema constraint (token mask cost, ratio).\n"
      "http: the HTTP layer: requests/s and latency, concurrent SSE streams on one io thread,\n"
      "and the TTFT the HTTP layer adds to tiny-model generations.\n"
      "fleet: the agent workload through HTTP over N local replicas behind the router, once per\n"
      "routing policy (cached share, TTFT, max/mean load); defaults: 4 replicas, 16 turns,\n"
      "a distinct system prompt per session (needs a model with >= 4k context, e.g.\n"
      "`tether make-model --preset tiny --context 8192 --vocab ...`).\n"
      "async: a real `tether serve` child with the async API: interactive TTFT without and with an\n"
      "async backlog draining (their p95 ratio), jobs/s submitted and completed, on --store.");
  command->add_option("--workload", options->workload, "What to measure")
      ->check(CLI::IsMember({"model", "tokenize", "matmul", "agent", "constrain", "http", "fleet", "async"}))
      ->capture_default_str();
  command->add_option("--model,-m", options->model_path, "GGUF file, or \"demo\" (model, tokenize)");
  command->add_option("--vocab", options->constrain.vocab_path,
                      "GGUF whose vocabulary the token masks are also measured on (constrain)");
  command->add_option("--threads,-t", options->model.threads, "Compute threads; 0 = one per hardware thread")
      ->capture_default_str();
  command->add_option("--prefill-tokens", options->model.prefill_tokens, "Prompt length of the prefill run (model)")
      ->capture_default_str();
  command->add_option("--decode-tokens", options->model.decode_tokens, "Tokens generated per decode run (model)")
      ->capture_default_str();
  command->add_option("--batch", options->model.batch_sizes, "Batched-decode sequence counts (model)")
      ->delimiter(',')
      ->capture_default_str();
  command->add_option("--bandwidth-mb", options->model.bandwidth_mb, "Buffer of the bandwidth probe (model)")
      ->capture_default_str();
  command->add_option("--type", options->matmul.type, "Weight type or \"all\" (matmul)")
      ->capture_default_str();
  command->add_option("--tokens", options->matmul.tokens, "Tokens per call (matmul)")
      ->capture_default_str();
  command->add_option("--path", options->matmul.path, "Kernels: best, avx2, scalar (matmul)")
      ->capture_default_str();
  command->add_option("--layout", options->matmul.layout,
                      "Weight layout: best (as the engine packs it) or rows (GGUF) (matmul)")
      ->check(CLI::IsMember({"best", "rows"}))
      ->capture_default_str();
  command->add_option("--probe-mb", options->matmul.probe_mb, "Bandwidth probe MiB (matmul)")
      ->capture_default_str();
  command->add_option("--working-set-mb", options->matmul.working_set_mb,
                      "Weight MiB cycled per shape (matmul)")
      ->capture_default_str();
  command->add_option("--sessions", options->agent.sessions, "Concurrent sessions (agent)")
      ->capture_default_str();
  auto* turns = command->add_option("--turns", options->agent.turns, "Turns per session (agent; fleet default 16)")
                    ->capture_default_str();
  command->add_option("--system-prompts", options->system_prompts,
                       "shared (one for all sessions) or distinct (one per session) (agent --url: shared; "
                       "fleet: distinct)")
      ->check(CLI::IsMember({"shared", "distinct"}));
  command->add_option("--kv-headroom", options->fleet.kv_headroom,
                      "Fleet: each replica's KV holds this x the final contexts of its fair share of sessions "
                      "(without --kv-memory)")
      ->check(CLI::Range(0.1, 100.0))
      ->capture_default_str();
  command->add_option("--replicas", options->fleet.replicas, "Local replicas behind the router (fleet)")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  command->add_option("--policies", options->fleet.policies, "Routing policies to run, in order (fleet)")
      ->delimiter(',')
      ->capture_default_str();
  command->add_option("--system-tokens", options->agent.system_tokens, "Shared system prompt tokens (agent)")
      ->capture_default_str();
  command->add_option("--user-tokens", options->agent.user_tokens, "User message tokens per turn (agent)")
      ->capture_default_str();
  command->add_option("--gen-tokens", options->agent.gen_tokens, "Tokens generated per turn (agent)")
      ->capture_default_str();
  command->add_option("--tool-tokens", options->agent.tool_tokens,
                      "Tool result tokens, every other turn (agent)")
      ->capture_default_str();
  command->add_option("--caching", options->agent.caching, "Prefix caching: on, off or both (agent)")
      ->check(CLI::IsMember({"on", "off", "both"}))
      ->capture_default_str();
  auto* kv_memory = command->add_option("--kv-memory", options->agent.kv_memory_mb,
                                        "KV cache budget in MiB (agent; fleet: per replica, default 1.5x its share)")
      ->check(CLI::Range(1, 1 << 20))
      ->capture_default_str();
  command->add_option("--block-tokens", options->agent.block_tokens, "Tokens per KV block (agent)")
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  command->add_option("--kv-type", options->agent.kv_type, "KV cache type: f16 or q8_0 (agent)")
      ->check(CLI::IsMember({"f16", "q8_0"}))
      ->capture_default_str();
  command->add_option("--url", options->url,
                      "agent: run through HTTP against this OpenAI-compatible server (http://HOST:PORT)");
  command->add_option("--model-name", options->model_name, "agent --url: the model name sent")
      ->default_str("demo");
  command->add_option("--api-key", options->api_key, "agent --url: bearer key");
  command->add_option("--label", options->label, "agent --url: names the server in the report");
  command->add_option("--prefix-cache-dir", options->agent.prefix_cache_dir,
                      "Persistent prefix cache directory (agent; caching on)");
  command->add_option("--connections", options->http.connections, "Keep-alive clients (http)")
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  auto* requests = command->add_option("--requests", options->http.requests,
                                       "Plain requests in all (http); per client and phase (async, default 20)")
      ->check(CLI::Range(1, 100000000))
      ->capture_default_str();
  command->add_option("--streams", options->http.streams, "Concurrent SSE streams (http)")
      ->check(CLI::Range(0, 100000))
      ->capture_default_str();
  command->add_option("--event-interval-ms", options->http.event_interval_ms,
                      "Pause between rounds of stream events (http)")
      ->check(CLI::Range(0, 10000))
      ->capture_default_str();
  command->add_option("--generate-requests", options->http.generate_requests,
                      "Streamed generations on --model through HTTP; 0 = skip (http)")
      ->check(CLI::Range(0, 100000))
      ->capture_default_str();
  AsyncBenchOptions& async = options->async;
  command->add_option("--store", async.store, "Job store URL (async; default a fresh SQLite file)");
  command->add_option("--jobs", async.jobs, "Async requests submitted (async)")->capture_default_str();
  command->add_option("--batch-size", async.batch_size,
                      "0: single x-tether-async jobs; N: Workers AI batches of N requests (async)")
      ->capture_default_str();
  command->add_option("--submit-connections", async.submit_connections, "Connections submitting jobs (async)")
      ->capture_default_str();
  command->add_option("--clients", async.clients, "Concurrent interactive clients (async)")->capture_default_str();
  command->add_option("--prompt-tokens", async.prompt_tokens, "Prompt tokens per request (async)")
      ->capture_default_str();
  command->add_option("--max-tokens", async.max_tokens, "Tokens generated per request (async)")
      ->capture_default_str();
  command->add_option("--async-max-in-flight", async.async_max_in_flight,
                      "The server's async.max_in_flight (async)")
      ->capture_default_str();
  command->add_option("--async-max-interactive", async.async_max_interactive,
                      "The server's async.max_interactive (async)")
      ->capture_default_str();
  command->add_option("--async-yield", async.yield,
                      "The server's async.yield_to_prefill: on, off, or both (a run of each, off first) (async)")
      ->check(CLI::IsMember({"on", "off", "both"}))
      ->capture_default_str();
  command->add_option("--timeout-s", async.timeout_s, "How long the backlog may take to drain (async)")
      ->capture_default_str();
  command->add_flag("--json", async.json, "One JSON document instead of the table (async)");
  command->add_option("--text-mb", options->text_mb, "Generated text size (tokenize)")
      ->capture_default_str();
  command->add_option("--repeats", options->repeats,
                      "Timed runs; the median is reported (0: 3 for model, 5 otherwise)")
      ->capture_default_str();
  command->add_option("--seed", options->seed, "Seed of the generated text")->capture_default_str();
  command->callback([options, &result, turns, kv_memory, requests] {
    if (options->workload == "async") {
      AsyncBenchOptions& a = options->async;
      a.model_path = options->model_path;
      a.vocab_path = options->constrain.vocab_path;
      a.threads = options->model.threads;
      if (kv_memory->count()) a.kv_memory_mb = options->agent.kv_memory_mb;
      if (requests->count()) a.requests = options->http.requests;
      a.seed = options->seed;
      run_async_bench(a);
      result.exit_code = 0;
      return;
    }
    if (options->workload == "matmul") {
      options->matmul.threads = options->model.threads;
      options->matmul.repeats = options->repeats == 0 ? 5 : options->repeats;
      run_matmul_bench(options->matmul);
      result.exit_code = 0;
      return;
    }
    if (options->workload == "http") {
      options->http.model_path = options->model_path.empty() ? "demo" : options->model_path;
      options->http.threads = options->model.threads;
      run_http_bench(options->http);
      result.exit_code = 0;
      return;
    }
    if (options->model_path.empty()) {
      throw_error(ErrorCode::kInvalidArgument, "--model is required for --workload {}",
                  options->workload);
    }
    if (options->workload == "constrain") {
      options->constrain.model_path = options->model_path;
      options->constrain.threads = options->model.threads;
      options->constrain.seed = options->seed;
      options->constrain.tokens = options->model.decode_tokens;
      if (options->repeats > 0) options->constrain.repeats = options->repeats;
      run_constrain_bench(options->constrain);
    } else if (options->workload == "agent" && !options->url.empty()) {
      const AgentBenchOptions& a = options->agent;
      run_agent_http_bench({.url = options->url,
                            .model_path = options->model_path,
                            .model_name = options->model_name.empty() ? "demo" : options->model_name,
                            .api_key = options->api_key,
                            .label = options->label.empty() ? options->url : options->label,
                            .sessions = a.sessions,
                            .turns = a.turns,
                            .system_tokens = a.system_tokens,
                            .user_tokens = a.user_tokens,
                            .gen_tokens = a.gen_tokens,
                            .tool_tokens = a.tool_tokens,
                            .distinct_system = options->system_prompts == "distinct",
                            .seed = options->seed});
    } else if (options->workload == "fleet") {
      const AgentBenchOptions& a = options->agent;
      FleetBenchOptions& f = options->fleet;
      f.model_path = options->model_path;
      f.threads = options->model.threads;
      f.kv_memory_mb = kv_memory->count() ? options->agent.kv_memory_mb : 0;
      f.agent.model_path = options->model_path;
      f.agent.sessions = a.sessions;
      f.agent.turns = turns->count() ? a.turns : 16;
      f.agent.system_tokens = a.system_tokens;
      f.agent.user_tokens = a.user_tokens;
      f.agent.gen_tokens = a.gen_tokens;
      f.agent.tool_tokens = a.tool_tokens;
      f.agent.distinct_system = options->system_prompts != "shared";
      f.agent.seed = options->seed;
      run_fleet_bench(f);
    } else if (options->workload == "agent") {
      options->agent.model_path = options->model_path;
      options->agent.threads = options->model.threads;
      options->agent.seed = options->seed;
      run_agent_bench(options->agent);
    } else if (options->workload == "model") {
      options->model.model_path = options->model_path;
      options->model.repeats = options->repeats == 0 ? 3 : options->repeats;
      run_model_bench(options->model);
    } else if (options->workload == "tokenize") {
      run_tokenize_workload(*options);
    }
    result.exit_code = 0;
  });
}

}  // namespace tether::cli
