#include "cli/bench_agent.h"

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "cli/bench_tokens.h"
#include "common/error.h"
#include "engine/gguf/gguf_file.h"
#include "engine/model/demo_model.h"
#include "engine/model/llama_model.h"
#include "engine/tokenizer/tokenizer.h"
#include "sched/engine.h"

namespace tether::cli {
namespace {

using tokenizer::TokenId;

using TurnRecord = AgentTurn;

struct RunReport {
  bool prefix_caching = false;
  double wall_s = 0;
  std::vector<TurnRecord> turns;
  // Per turn index t >= 1: the time to prefill that turn's uncached tokens
  // alone, i.e. on the idle engine on top of the same cached prefix
  // (measured on session 0's prompt; every session's turn t has the same
  // lengths). Empty when caching is off.
  std::vector<double> ideal_ttft_ms;
  sched::EngineStats stats;
};

sched::Request greedy_request(std::vector<TokenId> prompt, int32_t max_tokens, std::string salt) {
  sched::Request request;
  request.generation.prompt_tokens = std::move(prompt);
  request.generation.max_tokens = max_tokens;
  request.generation.sampling.temperature = 0.0f;
  request.generation.sampling.ignore_eos = true;
  request.cache_salt = std::move(salt);
  return request;
}

// The TTFT of `prompt` when only its tokens past `cached` need computing
// and nothing else runs: its first `cached` tokens are prefilled under a
// fresh salt first (untimed), then the whole prompt is sent under that salt
// and finds them cached. One run per turn: the untimed prefix costs a whole
// conversation's prefill.
double ideal_ttft_ms(sched::Engine& engine, const std::vector<TokenId>& prompt, int32_t cached, int turn) {
  const std::string salt = fmt::format("ideal-{}", turn);
  const std::vector<TokenId> prefix(prompt.begin(), prompt.begin() + cached + 1);
  sched::run_to_completion(engine, greedy_request(prefix, 1, salt));
  sched::RequestUsage usage;
  sched::run_to_completion(engine, greedy_request(prompt, 1, salt), &usage);
  if (usage.cached_prompt_tokens != cached) {
    throw_error(ErrorCode::kInternal, "agent bench: the ideal run of turn {} found {} cached tokens, not {}", turn,
                usage.cached_prompt_tokens, cached);
  }
  return usage.ttft_ms;
}

RunReport run_once(const AgentBenchOptions& o, bool prefix_caching,
                   const std::shared_ptr<model::LlamaModel>& model,
                   const std::shared_ptr<const tokenizer::Tokenizer>& tok,
                   const std::vector<TokenId>& pool) {
  sched::EngineOptions engine_options;
  engine_options.threads = o.threads;
  engine_options.prefix_caching = prefix_caching;
  engine_options.kv_memory_bytes = static_cast<size_t>(o.kv_memory_mb) << 20;
  engine_options.block_tokens = o.block_tokens;
  engine_options.kv_type = o.kv_type == "q8_0" ? kv::KvType::kQ8_0 : kv::KvType::kF16;
  engine_options.persistent_cache_dir = o.prefix_cache_dir;
  sched::Engine engine(model, tok, engine_options);

  RunReport report;
  report.prefix_caching = prefix_caching;
  std::vector<std::vector<TokenId>> session0_prompts(static_cast<size_t>(o.turns));

  const std::vector<TokenId> system = cut_tokens(pool, 0, o.system_tokens);
  std::mutex mutex;
  std::vector<std::string> errors;
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> sessions;
  for (int32_t s = 0; s < o.sessions; ++s) {
    sessions.emplace_back([&, s] {
      try {
        std::vector<TokenId> conversation = system;
        // Each session's messages come from its own region of the pool.
        size_t cursor = static_cast<size_t>(o.system_tokens) + static_cast<size_t>(s) * 104729;
        for (int32_t t = 0; t < o.turns; ++t) {
          if (t > 0 && t % 2 == 0) {
            const auto tool = cut_tokens(pool, cursor, o.tool_tokens);
            conversation.insert(conversation.end(), tool.begin(), tool.end());
            cursor += static_cast<size_t>(o.tool_tokens);
          }
          const auto user = cut_tokens(pool, cursor, o.user_tokens);
          conversation.insert(conversation.end(), user.begin(), user.end());
          cursor += static_cast<size_t>(o.user_tokens);
          if (s == 0) session0_prompts[static_cast<size_t>(t)] = conversation;
          sched::RequestUsage usage;
          const generation::GenerationResult result = sched::run_to_completion(
              engine, greedy_request(conversation, o.gen_tokens, "agent-bench"), &usage);
          conversation.insert(conversation.end(), result.tokens.begin(), result.tokens.end());
          std::lock_guard lock(mutex);
          report.turns.push_back({s, t, usage.prompt_tokens, usage.cached_prompt_tokens,
                                  usage.completion_tokens, usage.ttft_ms, usage.total_ms});
        }
      } catch (const std::exception& e) {
        std::lock_guard lock(mutex);
        errors.push_back(e.what());
      }
    });
  }
  for (auto& thread : sessions) thread.join();
  report.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!errors.empty()) throw_error(ErrorCode::kInternal, "agent bench: a session failed: {}", errors.front());
  report.stats = engine.stats();
  if (prefix_caching) {
    for (int32_t t = 1; t < o.turns; ++t) {
      int32_t cached = 0;
      for (const TurnRecord& r : report.turns) {
        if (r.session == 0 && r.turn == t) cached = r.cached_tokens;
      }
      report.ideal_ttft_ms.push_back(ideal_ttft_ms(engine, session0_prompts[static_cast<size_t>(t)], cached, t));
    }
  }
  return report;
}

std::string percentiles(const std::vector<double>& values) {
  return fmt::format("{{\"p50\":{:.1f},\"p95\":{:.1f}}}", quantile(values, 0.5), quantile(values, 0.95));
}

std::string report_json(const RunReport& r) {
  std::vector<double> warm_ratio;
  for (const TurnRecord& t : r.turns) {
    if (t.turn > 0 && static_cast<size_t>(t.turn) <= r.ideal_ttft_ms.size()) {
      warm_ratio.push_back(t.ttft_ms / std::max(r.ideal_ttft_ms[static_cast<size_t>(t.turn) - 1], 1e-3));
    }
  }
  return fmt::format(
      "{{\"prefix_caching\":{},{},"
      "\"ideal_warm_ttft_ms\":[{}],\"warm_ttft_over_new_prefill\":{},"
      "\"engine\":{{\"steps\":{},\"preemptions\":{},\"evicted_blocks\":{},\"cache_hit_blocks\":{}}}}}",
      r.prefix_caching ? "true" : "false", agent_turns_json_fields(r.turns, r.wall_s),
      fmt::format("{:.1f}", fmt::join(r.ideal_ttft_ms, ",")),
      r.ideal_ttft_ms.empty() ? std::string("null") : percentiles(warm_ratio), r.stats.steps,
      r.stats.preemptions, r.stats.kv.evicted_blocks, r.stats.kv.hit_blocks);
}

}  // namespace

std::string agent_turns_json_fields(const std::vector<AgentTurn>& turns, double wall_s) {
  std::vector<double> cold_ttft, warm_ttft, all_ttft, latency;
  int64_t prompt = 0, cached = 0, generated = 0;
  bool cached_known = true;
  for (const AgentTurn& t : turns) {
    (t.turn == 0 ? cold_ttft : warm_ttft).push_back(t.ttft_ms);
    all_ttft.push_back(t.ttft_ms);
    latency.push_back(t.total_ms);
    prompt += t.prompt_tokens;
    generated += t.completion_tokens;
    if (t.cached_tokens < 0) cached_known = false;
    cached += std::max(t.cached_tokens, 0);
  }
  const std::string share = cached_known && prompt > 0
                                ? fmt::format("{:.3f}", static_cast<double>(cached) / static_cast<double>(prompt))
                                : std::string("null");
  return fmt::format(
      "\"requests\":{},\"wall_s\":{:.1f},\"prompt_tokens\":{},\"cached_prompt_tokens\":{},"
      "\"cached_share\":{},\"output_tokens_per_s\":{:.2f},\"ttft_ms\":{{\"cold\":{},\"warm\":{},\"all\":{}}},"
      "\"turn_latency_ms\":{}",
      turns.size(), wall_s, prompt, cached_known ? std::to_string(cached) : std::string("null"), share,
      wall_s > 0 ? static_cast<double>(generated) / wall_s : 0.0, percentiles(cold_ttft), percentiles(warm_ttft),
      percentiles(all_ttft), percentiles(latency));
}

void check_agent_shape(int32_t sessions, int32_t turns, int32_t system_tokens, int32_t user_tokens,
                       int32_t gen_tokens, int32_t tool_tokens) {
  if (sessions < 1 || sessions > 1024 || turns < 1 || turns > 1000) {
    throw_error(ErrorCode::kInvalidArgument, "--sessions must be in [1, 1024] and --turns in [1, 1000]");
  }
  if (system_tokens < 1 || user_tokens < 1 || gen_tokens < 1 || tool_tokens < 0) {
    throw_error(ErrorCode::kInvalidArgument,
                "--system-tokens, --user-tokens and --gen-tokens must be >= 1, --tool-tokens >= 0");
  }
}

void run_agent_bench(const AgentBenchOptions& o) {
  check_agent_shape(o.sessions, o.turns, o.system_tokens, o.user_tokens, o.gen_tokens, o.tool_tokens);
  if (o.caching != "on" && o.caching != "off" && o.caching != "both") {
    throw_error(ErrorCode::kInvalidArgument, "--caching must be on, off or both");
  }
  const auto file = std::make_shared<const gguf::GgufFile>(
      gguf::GgufFile::open(model::resolve_model_path(o.model_path)));
  auto tok = std::make_shared<const tokenizer::Tokenizer>(tokenizer::Tokenizer::from_gguf(*file));
  auto model = std::make_shared<model::LlamaModel>(model::LlamaModel::load(file));
  const int32_t n_ctx = model->config().context_length;
  const int64_t longest = int64_t{o.system_tokens} +
                          int64_t{o.turns} * (o.user_tokens + o.gen_tokens) + int64_t{o.turns / 2} * o.tool_tokens;
  if (n_ctx > 0 && longest >= n_ctx) {
    throw_error(ErrorCode::kInvalidArgument, "a conversation reaches {} tokens; the model's context holds {}",
                longest, n_ctx);
  }
  const std::vector<TokenId> pool = synthetic_token_pool(*tok, model->config().vocab_size, 256 * 1024, o.seed);

  std::string runs;
  for (bool caching : {true, false}) {
    if ((caching && o.caching == "off") || (!caching && o.caching == "on")) continue;
    runs += (runs.empty() ? "" : ",") + report_json(run_once(o, caching, model, tok, pool));
  }
  fmt::print(
      "{{\"workload\":\"agent\",\"model\":\"{}\",\"threads\":{},\"kv_type\":\"{}\",\"sessions\":{},\"turns\":{},"
      "\"system_tokens\":{},\"user_tokens\":{},\"gen_tokens\":{},\"tool_tokens\":{},\"runs\":[{}]}}\n",
      file->source_name(), o.threads, o.kv_type, o.sessions, o.turns, o.system_tokens, o.user_tokens, o.gen_tokens,
      o.tool_tokens, runs);
}

}  // namespace tether::cli
