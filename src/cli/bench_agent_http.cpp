#include "cli/bench_agent_http.h"

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/url/parse.hpp>
#include <fmt/format.h>

#include "cli/bench_agent.h"
#include "cli/bench_tokens.h"
#include "common/error.h"
#include "engine/gguf/gguf_file.h"
#include "engine/model/demo_model.h"
#include "engine/tokenizer/tokenizer.h"
#include "engine/tokenizer/unicode.h"
#include "http/client.h"
#include "http/sse_parser.h"

namespace tether::cli {
namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

struct Endpoint {
  std::string host;
  uint16_t port = 80;
};

Endpoint parse_endpoint(const std::string& url) {
  auto parsed = boost::urls::parse_uri(url);
  if (!parsed || parsed->scheme() != "http" || parsed->host().empty()) {
    throw_error(ErrorCode::kInvalidArgument, "--url must be http://HOST[:PORT], got '{}'", url);
  }
  Endpoint endpoint;
  endpoint.host = std::string(parsed->host());
  if (parsed->has_port()) endpoint.port = parsed->port_number();
  return endpoint;
}

boost::json::object message(std::string_view role, std::string content) {
  return boost::json::object{{"role", role}, {"content", std::move(content)}};
}

std::string request_body(const AgentHttpBenchOptions& o, const boost::json::array& messages,
                         const boost::json::object& logit_bias) {
  boost::json::object body{{"model", o.model_name},
                           {"logit_bias", logit_bias},
                           {"messages", messages},
                           {"max_tokens", o.gen_tokens},
                           {"temperature", 0},
                           {"ignore_eos", true},
                           {"stream", true},
                           {"stream_options", boost::json::object{{"include_usage", true}}}};
  return boost::json::serialize(body);
}

http::HeaderList request_headers(const AgentHttpBenchOptions& o, int32_t session) {
  http::HeaderList headers{{"content-type", "application/json"},
                           {"x-session-affinity", fmt::format("session-{}", session)}};
  if (!o.api_key.empty()) headers.emplace_back("authorization", "Bearer " + o.api_key);
  return headers;
}

// What one streamed event adds to a turn: content text, usage counts.
struct EventFacts {
  std::string error;  // an error event mid-stream
  std::string content;
  std::optional<int32_t> prompt_tokens, cached_tokens, completion_tokens;
};

EventFacts read_event(const std::string& data) {
  EventFacts facts;
  boost::system::error_code ec;
  boost::json::value event = boost::json::parse(data, ec);
  if (ec || !event.is_object()) return facts;
  const boost::json::object& object = event.get_object();
  if (const auto* error = object.if_contains("error")) {
    facts.error = boost::json::serialize(*error);
    return facts;
  }
  if (const auto* choices = object.if_contains("choices"); choices && choices->is_array()) {
    for (const auto& choice : choices->get_array()) {
      const auto* delta = choice.is_object() ? choice.get_object().if_contains("delta") : nullptr;
      const auto* text = delta && delta->is_object() ? delta->get_object().if_contains("content") : nullptr;
      if (text && text->is_string()) facts.content += text->get_string();
    }
  }
  auto int_at = [](const boost::json::value* v) -> std::optional<int32_t> {
    if (v && v->is_int64()) return static_cast<int32_t>(v->get_int64());
    return std::nullopt;
  };
  if (const auto* usage = object.if_contains("usage"); usage && usage->is_object()) {
    facts.prompt_tokens = int_at(usage->get_object().if_contains("prompt_tokens"));
    facts.completion_tokens = int_at(usage->get_object().if_contains("completion_tokens"));
    if (const auto* details = usage->get_object().if_contains("prompt_tokens_details");
        details && details->is_object()) {
      facts.cached_tokens = int_at(details->get_object().if_contains("cached_tokens"));
    }
  }
  // llama-server reports its prompt cache reuse in "timings".
  if (const auto* timings = object.if_contains("timings"); timings && timings->is_object()) {
    if (!facts.cached_tokens) facts.cached_tokens = int_at(timings->get_object().if_contains("cache_n"));
  }
  return facts;
}

struct SessionTexts {
  std::string system;
  std::vector<std::string> users, tools;
};

boost::asio::awaitable<void> run_session(boost::asio::io_context& io, const AgentHttpBenchOptions& o,
                                         const Endpoint& endpoint, int32_t session, const SessionTexts& texts,
                                         const boost::json::object& logit_bias,
                                         std::vector<AgentTurn>& turns, std::string& error) {
  try {
    http::ClientOptions client_options;
    client_options.io_timeout = std::chrono::minutes(10);
    http::HttpClient client(io.get_executor(), endpoint.host, endpoint.port, client_options);
    boost::json::array messages;
    messages.push_back(message("system", texts.system));
    for (int32_t t = 0; t < o.turns; ++t) {
      if (t > 0 && t % 2 == 0) messages.push_back(message("user", "Tool result:\n" + texts.tools[static_cast<size_t>(t)]));
      messages.push_back(message("user", texts.users[static_cast<size_t>(t)]));
      const auto start = Clock::now();
      http::ClientResponse head =
          co_await client.start("POST", "/v1/chat/completions", request_body(o, messages, logit_bias),
                                request_headers(o, session));
      if (head.status != 200) {
        std::string body;
        while (auto chunk = co_await client.next_chunk()) body += *chunk;
        throw_error(ErrorCode::kIo, "session {} turn {}: HTTP {}: {}", session, t, head.status, body);
      }
      AgentTurn record{.session = session, .turn = t};
      http::SseParser parser;
      std::string answer;
      bool first = true;
      while (auto chunk = co_await client.next_chunk()) {
        for (const http::SseEvent& event : parser.feed(*chunk)) {
          if (event.data == "[DONE]") continue;
          EventFacts facts = read_event(event.data);
          if (!facts.error.empty()) {
            throw_error(ErrorCode::kIo, "session {} turn {}: the stream reported {}", session, t, facts.error);
          }
          if (!facts.content.empty() && first) {
            record.ttft_ms = ms_since(start);
            first = false;
          }
          answer += facts.content;
          if (facts.prompt_tokens) record.prompt_tokens = *facts.prompt_tokens;
          if (facts.completion_tokens) record.completion_tokens = *facts.completion_tokens;
          if (facts.cached_tokens) record.cached_tokens = *facts.cached_tokens;
        }
      }
      record.total_ms = ms_since(start);
      if (first) record.ttft_ms = record.total_ms;  // nothing streamed
      turns.push_back(record);
      messages.push_back(message("assistant", answer));
    }
  } catch (const std::exception& e) {
    if (error.empty()) error = e.what();
  }
}

}  // namespace

boost::json::object textless_token_bias(const tokenizer::Tokenizer& tok) {
  constexpr size_t kMaxBanned = 4096;
  boost::json::object bias;
  for (tokenizer::TokenId id = 0; id < tok.n_vocab(); ++id) {
    const std::string& piece = tok.token_to_piece(id);
    if (piece.empty() || !tokenizer::unicode::is_valid_utf8(piece)) bias[std::to_string(id)] = -100;
  }
  if (bias.size() > kMaxBanned) {
    throw_error(ErrorCode::kInvalidArgument,
                "agent bench over HTTP: {} of the model's {} tokens print no valid text (more than {}); use a "
                "model with a real vocabulary, e.g. make-model --preset 0.5b --vocab ggml-vocab-gpt-2.gguf",
                bias.size(), tok.n_vocab(), kMaxBanned);
  }
  return bias;
}

AgentHttpResult run_agent_http(const AgentHttpBenchOptions& o) {
  check_agent_shape(o.sessions, o.turns, o.system_tokens, o.user_tokens, o.gen_tokens, o.tool_tokens);
  const Endpoint endpoint = parse_endpoint(o.url);
  const gguf::GgufFile file = gguf::GgufFile::open(model::resolve_model_path(o.model_path));
  const tokenizer::Tokenizer tok = tokenizer::Tokenizer::from_gguf(file);
  const std::vector<tokenizer::TokenId> pool = synthetic_token_pool(tok, tok.n_vocab(), 256 * 1024, o.seed);
  // Cuts may split a UTF-8 character; JSON wants valid text.
  auto text = [&](size_t offset, int32_t n) {
    return tokenizer::unicode::sanitize_utf8(tok.decode(cut_tokens(pool, offset, n)));
  };

  std::vector<SessionTexts> texts(static_cast<size_t>(o.sessions));
  for (int32_t s = 0; s < o.sessions; ++s) {
    SessionTexts& t = texts[static_cast<size_t>(s)];
    // Distinct system prompts start at the session's own place in the pool.
    const size_t system_at = o.distinct_system ? static_cast<size_t>(s + 1) * 7919 : 0;
    t.system = text(system_at, o.system_tokens);
    size_t cursor = static_cast<size_t>(o.system_tokens) + static_cast<size_t>(s) * 104729;
    for (int32_t turn = 0; turn < o.turns; ++turn) {
      t.tools.push_back(text(cursor, o.tool_tokens));
      cursor += static_cast<size_t>(o.tool_tokens);
      t.users.push_back(text(cursor, o.user_tokens));
      cursor += static_cast<size_t>(o.user_tokens);
    }
  }

  const boost::json::object logit_bias = textless_token_bias(tok);
  boost::asio::io_context io;
  std::vector<AgentTurn> turns;
  std::string error;
  const auto start = Clock::now();
  for (int32_t s = 0; s < o.sessions; ++s) {
    boost::asio::co_spawn(io, run_session(io, o, endpoint, s, texts[static_cast<size_t>(s)], logit_bias, turns, error),
                          boost::asio::detached);
  }
  io.run();
  const double wall_s = ms_since(start) / 1000.0;
  if (!error.empty()) throw_error(ErrorCode::kIo, "agent bench over HTTP: {}", error);
  return {std::move(turns), wall_s};
}

void run_agent_http_bench(const AgentHttpBenchOptions& o) {
  const auto [turns, wall_s] = run_agent_http(o);
  fmt::print(
      "{{\"workload\":\"agent\",\"transport\":\"http\",\"server\":\"{}\",\"url\":\"{}\",\"model\":\"{}\","
      "\"sessions\":{},\"turns\":{},\"system_tokens\":{},\"user_tokens\":{},\"gen_tokens\":{},"
      "\"tool_tokens\":{},{}}}\n",
      o.label, o.url, o.model_name, o.sessions, o.turns, o.system_tokens, o.user_tokens, o.gen_tokens,
      o.tool_tokens, agent_turns_json_fields(turns, wall_s));
}

}  // namespace tether::cli
