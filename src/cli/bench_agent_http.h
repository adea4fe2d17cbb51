#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <boost/json/object.hpp>

#include "cli/bench_agent.h"
#include "engine/tokenizer/tokenizer.h"

namespace tether::cli {

// The `agent` workload (see bench_agent.h) through HTTP against any
// OpenAI-compatible server: `tether serve`, llama.cpp's llama-server, vLLM.
// Each session sends POST /v1/chat/completions with the whole conversation
// (system prompt, user turns, every other turn a tool result, the answers
// the server really streamed back), stream: true with usage, temperature 0,
// ignore_eos, max_tokens G, and `x-session-affinity: session-N`. Message
// texts are cut from generated text so that they hold about P, U and R
// tokens in the model's vocabulary (`model_path` is read for its tokenizer
// only). TTFT is the time to the first streamed content; cached tokens come
// from usage.prompt_tokens_details.cached_tokens (or llama-server's
// timings.cache_n). Prints one JSON document.
struct AgentHttpBenchOptions {
  std::string url;          // http://host:port
  std::string model_path;   // GGUF whose tokenizer sizes the messages ("demo" allowed)
  std::string model_name;   // the "model" field sent
  std::string api_key;      // sent as a bearer when set
  std::string label;        // names the server in the report
  int32_t sessions = 8;
  int32_t turns = 6;
  int32_t system_tokens = 1024;
  int32_t user_tokens = 48;
  int32_t gen_tokens = 32;
  int32_t tool_tokens = 96;
  // Each session its own system prompt (many agents or tenants) instead of
  // one shared by all (BENCHMARKS.md's agent default).
  bool distinct_system = false;
  uint64_t seed = 42;
};

// Runs the workload; returns every turn's record and the wall time.
// Throws Error(kIo) when a request fails.
struct AgentHttpResult {
  std::vector<AgentTurn> turns;
  double wall_s = 0;
};
AgentHttpResult run_agent_http(const AgentHttpBenchOptions& options);

// Random weights pick tokens no real model would: control tokens that print
// nothing, and byte pieces that are not UTF-8 on their own (which some
// servers refuse to stream). A logit_bias banning every such token makes
// each generated token text, identically for every server, so TTFT is the
// first token's. Too many of them (e.g. a vocabulary padded with thousands
// of reserved tokens) is Error(kInvalidArgument): use a real vocabulary.
boost::json::object textless_token_bias(const tokenizer::Tokenizer& tok);

// run_agent_http, printed as one JSON document.
void run_agent_http_bench(const AgentHttpBenchOptions& options);

}  // namespace tether::cli
