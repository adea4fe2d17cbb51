#include "cli/bench_async.h"

#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/json.hpp>
#include <fmt/format.h>

#include "cli/bench_agent_http.h"
#include "cli/serve_process.h"
#include "cli/bench_tokens.h"
#include "common/error.h"
#include "engine/gguf/gguf_file.h"
#include "engine/model/demo_model.h"
#include "engine/model/model_maker.h"
#include "engine/model/model_shape.h"
#include "engine/tokenizer/tokenizer.h"
#include "engine/tokenizer/unicode.h"
#include "http/client.h"
#include "http/sse_parser.h"

namespace tether::cli {
namespace {

using Clock = std::chrono::steady_clock;
namespace asio = boost::asio;
namespace json = boost::json;

constexpr const char* kModelName = "bench";
constexpr double kTargetRatio = 1.2;

double ms_between(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double, std::milli>(to - from).count();
}

// A fresh directory under $TMPDIR, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "tether-bench-async-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw_error(ErrorCode::kIo, "bench: cannot make a temp directory");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

bool batching(const AsyncBenchOptions& o) { return o.batch_size > 0; }

void check_options(const AsyncBenchOptions& o) {
  auto in_range = [](int64_t value, int64_t low, int64_t high, const char* flag) {
    if (value < low || value > high) {
      throw_error(ErrorCode::kInvalidArgument, "async bench: {} must be in [{}, {}], got {}", flag, low, high, value);
    }
  };
  in_range(o.threads, 0, 256, "--threads");
  in_range(o.kv_memory_mb, 1, 1 << 20, "--kv-memory");
  in_range(o.jobs, 1, 1'000'000, "--jobs");
  in_range(o.batch_size, 0, 10'000, "--batch-size");
  in_range(o.submit_connections, 1, 1024, "--submit-connections");
  in_range(o.clients, 1, 1024, "--clients");
  in_range(o.requests, 1, 100'000, "--requests");
  in_range(o.prompt_tokens, 1, 100'000, "--prompt-tokens");
  in_range(o.max_tokens, 1, 100'000, "--max-tokens");
  in_range(o.async_max_in_flight, 1, 100'000, "--async-max-in-flight");
  in_range(o.async_max_interactive, 1, 100'000, "--async-max-interactive");
  in_range(o.timeout_s, 1, 86'400 * 7, "timeout");
  if (o.yield != "on" && o.yield != "off" && o.yield != "both") {
    throw_error(ErrorCode::kInvalidArgument, "async bench: --async-yield must be on, off or both, got '{}'", o.yield);
  }
}

// "sqlite" or "postgres": the report never shows a URL (it may hold a password).
std::string store_kind(const std::string& url) {
  if (url.rfind("postgres://", 0) == 0 || url.rfind("postgresql://", 0) == 0) return "postgres";
  if (url.find("://") != std::string::npos) return "other";
  return "sqlite";  // sqlite:PATH or a plain path
}

// JSON strings are YAML strings.
std::string yaml_string(const std::string& text) { return json::serialize(json::value(text)); }

std::string serve_config_yaml(const AsyncBenchOptions& o, const std::filesystem::path& model,
                              const std::string& store, bool yield_to_prefill) {
  return fmt::format(
      "model: {}\nmodel_name: {}\nhost: 127.0.0.1\nport: 0\nthreads: {}\nkv_memory: {}\naccess_log: false\n"
      "max_queued: {}\nasync:\n  store: {}\n  max_in_flight: {}\n  max_interactive: {}\n  yield_to_prefill: {}\n",
      yaml_string(model.string()), kModelName, o.threads, o.kv_memory_mb,
      std::max(256, o.clients + o.async_max_in_flight + 16), yaml_string(store), o.async_max_in_flight,
      o.async_max_interactive, yield_to_prefill);
}

std::filesystem::path make_tiny_model(const AsyncBenchOptions& o, const std::filesystem::path& dir) {
  model::MakeModelOptions make;
  make.shape = model::model_shape_preset("tiny");
  make.seed = o.seed;
  if (!o.vocab_path.empty()) make.vocab_path = o.vocab_path;
  const std::filesystem::path path = dir / "tiny.gguf";
  model::ModelMaker(make).write_file(path);
  return path;
}

// Request bodies: every prompt distinct from its first block on (a ticket
// number leads it), so the prefix cache cannot make a phase trivial.
class Workload {
 public:
  Workload(const AsyncBenchOptions& o, const tokenizer::Tokenizer& tok)
      : options_(o), bias_(textless_token_bias(tok)), tok_(tok) {
    const size_t prompts = static_cast<size_t>(o.clients) * (3 * static_cast<size_t>(o.requests) + 1) +
                           static_cast<size_t>(o.jobs);
    const size_t wanted = std::min<size_t>(prompts * static_cast<size_t>(o.prompt_tokens), size_t{4} << 20);
    pool_ = synthetic_token_pool(tok, tok.n_vocab(), std::max<size_t>(wanted * 5, 256 * 1024), o.seed);
  }

  // The `index`-th chat body (model, messages, sampling), unique per index.
  json::object chat(size_t index) const {
    json::object body;
    body["model"] = kModelName;
    json::array messages;
    json::object user;
    user["role"] = "user";
    user["content"] = prompt(index);
    messages.push_back(std::move(user));
    body["messages"] = std::move(messages);
    body["max_tokens"] = options_.max_tokens;
    body["temperature"] = 0;
    body["ignore_eos"] = true;
    body["logit_bias"] = bias_;
    return body;
  }

  std::string interactive(size_t index) const {
    json::object body = chat(index);
    body["stream"] = true;
    return json::serialize(body);
  }

  std::string single_job(size_t index) const { return json::serialize(chat(index)); }

  // A Workers AI batch of the requests [first, first + count).
  std::string workers_ai_batch(size_t first, size_t count) const {
    json::array requests;
    for (size_t index = first; index < first + count; ++index) {
      json::object request = chat(index);
      request.erase("model");
      requests.push_back(std::move(request));
    }
    json::object body;
    body["requests"] = std::move(requests);
    return json::serialize(body);
  }

 private:
  std::string prompt(size_t index) const {
    const size_t offset = index * static_cast<size_t>(options_.prompt_tokens);
    const std::string text = tokenizer::unicode::sanitize_utf8(
        tok_.decode(cut_tokens(pool_, offset % pool_.size(), options_.prompt_tokens)));
    return fmt::format("Ticket {}. Summarize these notes in one short paragraph.\n\n{}", index, text);
  }

  const AsyncBenchOptions& options_;
  json::object bias_;
  const tokenizer::Tokenizer& tok_;
  std::vector<tokenizer::TokenId> pool_;
};

http::HeaderList json_headers() { return {{"content-type", "application/json"}}; }

http::HttpClient make_client(asio::any_io_executor executor, uint16_t port) {
  http::ClientOptions options;
  options.io_timeout = std::chrono::minutes(10);
  return http::HttpClient(std::move(executor), "127.0.0.1", port, options);
}

json::value parse_body(const std::string& text, std::string_view what) {
  boost::system::error_code ec;
  json::value value = json::parse(text, ec);
  if (ec) throw_error(ErrorCode::kIo, "async bench: {} answered no JSON: {}", what, text.substr(0, 200));
  return value;
}

// Content text of one streamed chat event; Error(kIo) for an error event.
std::string event_content(const std::string& data) {
  boost::system::error_code ec;
  const json::value event = json::parse(data, ec);
  if (ec || !event.is_object()) return {};
  if (const json::value* error = event.as_object().if_contains("error")) {
    throw_error(ErrorCode::kIo, "async bench: a stream reported {}", json::serialize(*error));
  }
  std::string content;
  if (const json::value* choices = event.as_object().if_contains("choices"); choices && choices->is_array()) {
    for (const json::value& choice : choices->as_array()) {
      const json::value* delta = choice.is_object() ? choice.as_object().if_contains("delta") : nullptr;
      const json::value* text = delta && delta->is_object() ? delta->as_object().if_contains("content") : nullptr;
      if (text && text->is_string()) content += text->as_string();
    }
  }
  return content;
}

struct Sample {
  double ttft_ms = 0;
  double latency_ms = 0;
};

// One client: its requests one after another, each streamed to the end.
asio::awaitable<void> interactive_client(uint16_t port, const std::vector<std::string>* bodies,
                                         std::vector<Sample>* samples) {
  http::HttpClient client = make_client(co_await asio::this_coro::executor, port);
  for (const std::string& body : *bodies) {
    const Clock::time_point start = Clock::now();
    const http::ClientResponse head = co_await client.start("POST", "/v1/chat/completions", body, json_headers());
    std::string text;
    if (head.status != 200) {
      while (std::optional<std::string> chunk = co_await client.next_chunk()) text += *chunk;
      throw_error(ErrorCode::kIo, "async bench: a chat request answered {}: {}", head.status, text.substr(0, 300));
    }
    http::SseParser parser;
    Sample sample;
    bool first = true;
    while (std::optional<std::string> chunk = co_await client.next_chunk()) {
      for (const http::SseEvent& event : parser.feed(*chunk)) {
        if (event.data == "[DONE]") continue;
        if (first && !event_content(event.data).empty()) {
          sample.ttft_ms = ms_between(start, Clock::now());
          first = false;
        }
      }
    }
    sample.latency_ms = ms_between(start, Clock::now());
    if (first) throw_error(ErrorCode::kIo, "async bench: a chat stream ended without content");
    samples->push_back(sample);
  }
}

// What one connection of the submission phase does: take the next body,
// submit it, note the job id, until none is left.
struct Submissions {
  std::vector<std::string> bodies;
  bool batch = false;
  size_t next = 0;
  std::vector<std::string> job_ids;
  std::vector<double> latencies_ms;
};

std::string submitted_job_id(const http::ClientResponse& response, bool batch) {
  const json::value body = parse_body(response.body, "a submission");
  const json::value* id = nullptr;
  if (batch) {
    const json::value* result = body.is_object() ? body.as_object().if_contains("result") : nullptr;
    id = result && result->is_object() ? result->as_object().if_contains("request_id") : nullptr;
  } else {
    id = body.is_object() ? body.as_object().if_contains("id") : nullptr;
  }
  if (id == nullptr || !id->is_string()) {
    throw_error(ErrorCode::kIo, "async bench: a submission answered no job id: {}", response.body.substr(0, 300));
  }
  return std::string(id->as_string());
}

asio::awaitable<void> submitter(uint16_t port, Submissions* work) {
  http::HttpClient client = make_client(co_await asio::this_coro::executor, port);
  http::HeaderList headers = json_headers();
  if (!work->batch) headers.emplace_back("x-tether-async", "true");
  const char* target = work->batch ? "/ai/run/bench?queueRequest=true" : "/v1/chat/completions";
  const int expected = work->batch ? 200 : 202;
  while (work->next < work->bodies.size()) {
    const std::string& body = work->bodies[work->next++];
    const Clock::time_point start = Clock::now();
    const http::ClientResponse response = co_await client.request("POST", target, body, headers);
    if (response.status != expected) {
      throw_error(ErrorCode::kIo, "async bench: a submission answered {}: {}", response.status,
                  response.body.substr(0, 300));
    }
    work->latencies_ms.push_back(ms_between(start, Clock::now()));
    work->job_ids.push_back(submitted_job_id(response, work->batch));
  }
}

// Every job's status, paging through GET /v1/jobs (newest first).
asio::awaitable<std::map<std::string, std::string>> job_statuses(http::HttpClient& client) {
  std::map<std::string, std::string> statuses;
  std::string after;
  while (true) {
    const std::string target = "/v1/jobs?limit=100" + (after.empty() ? std::string() : "&after=" + after);
    const http::ClientResponse response = co_await client.request("GET", target);
    if (response.status != 200) {
      throw_error(ErrorCode::kIo, "async bench: GET /v1/jobs answered {}: {}", response.status,
                  response.body.substr(0, 300));
    }
    const json::value page = parse_body(response.body, "GET /v1/jobs");
    for (const json::value& job : page.at("data").as_array()) {
      statuses[std::string(job.at("id").as_string())] = std::string(job.at("status").as_string());
    }
    if (!page.at("has_more").as_bool() || !page.at("last_id").is_string()) break;
    after = std::string(page.at("last_id").as_string());
  }
  co_return statuses;
}

asio::awaitable<std::map<std::string, std::string>> statuses_now(uint16_t port) {
  http::HttpClient client = make_client(co_await asio::this_coro::executor, port);
  co_return co_await job_statuses(client);
}

bool is_terminal(const std::string& status) { return status != "queued" && status != "running"; }

struct JobCounts {
  int64_t pending = 0;  // queued or running
  int64_t succeeded = 0;
  int64_t failed = 0;  // failed, cancelled or expired
};

JobCounts count_jobs(const std::map<std::string, std::string>& statuses, const std::vector<std::string>& ids) {
  JobCounts counts;
  for (const std::string& id : ids) {
    const auto found = statuses.find(id);
    const std::string status = found == statuses.end() ? "queued" : found->second;
    if (!is_terminal(status)) {
      ++counts.pending;
    } else if (status == "succeeded") {
      ++counts.succeeded;
    } else {
      ++counts.failed;
    }
  }
  return counts;
}

// Items of finished Workers AI jobs by outcome (a job holds a batch).
asio::awaitable<JobCounts> workers_ai_item_counts(uint16_t port, const std::vector<std::string>* ids) {
  http::HttpClient client = make_client(co_await asio::this_coro::executor, port);
  JobCounts counts;
  for (const std::string& id : *ids) {
    json::object poll;
    poll["request_id"] = id;
    const http::ClientResponse response =
        co_await client.request("POST", "/ai/run/bench", json::serialize(poll), json_headers());
    const json::value body = parse_body(response.body, "a Workers AI poll");
    const json::value* result = body.is_object() ? body.as_object().if_contains("result") : nullptr;
    const json::value* responses = result && result->is_object() ? result->as_object().if_contains("responses") : nullptr;
    if (response.status != 200 || responses == nullptr || !responses->is_array()) {
      throw_error(ErrorCode::kIo, "async bench: polling {} answered {}: {}", id, response.status,
                  response.body.substr(0, 300));
    }
    for (const json::value& item : responses->as_array()) {
      const json::value* success = item.is_object() ? item.as_object().if_contains("success") : nullptr;
      (success && success->is_bool() && success->as_bool() ? counts.succeeded : counts.failed) += 1;
    }
  }
  co_return counts;
}

asio::awaitable<bool> any_job_with_status(http::HttpClient& client, std::string_view status) {
  const http::ClientResponse response = co_await client.request("GET", fmt::format("/v1/jobs?status={}&limit=1", status));
  if (response.status != 200) throw_error(ErrorCode::kIo, "async bench: GET /v1/jobs answered {}", response.status);
  co_return !parse_body(response.body, "GET /v1/jobs").at("data").as_array().empty();
}

// Polls until every job of `ids` is terminal; returns when it saw that and
// the final counts.
struct Drained {
  Clock::time_point at;
  JobCounts jobs;
};
asio::awaitable<Drained> wait_drained(uint16_t port, const std::vector<std::string>* ids, int64_t timeout_s) {
  http::HttpClient client = make_client(co_await asio::this_coro::executor, port);
  asio::steady_timer timer(co_await asio::this_coro::executor);
  const Clock::time_point deadline = Clock::now() + std::chrono::seconds(timeout_s);
  while (true) {
    // Cheap checks first; the full listing confirms (a job may go back to
    // queued between the two checks when its item is released).
    bool busy = co_await any_job_with_status(client, "queued");
    if (!busy) busy = co_await any_job_with_status(client, "running");
    if (!busy) {
      const Clock::time_point seen = Clock::now();
      const JobCounts counts = count_jobs(co_await job_statuses(client), *ids);
      if (counts.pending == 0) co_return Drained{seen, counts};
    }
    if (Clock::now() > deadline) {
      throw_error(ErrorCode::kIo, "async bench: the jobs did not finish within {} s", timeout_s);
    }
    timer.expires_after(std::chrono::milliseconds(50));
    co_await timer.async_wait(asio::use_awaitable);
  }
}

asio::awaitable<void> wait_ready(uint16_t port) {
  http::HttpClient client = make_client(co_await asio::this_coro::executor, port);
  asio::steady_timer timer(co_await asio::this_coro::executor);
  const Clock::time_point deadline = Clock::now() + std::chrono::minutes(5);
  while (true) {
    const http::ClientResponse response = co_await client.request("GET", "/ready");
    if (response.status == 200) co_return;
    if (Clock::now() > deadline) throw_error(ErrorCode::kIo, "async bench: the server was not ready within 5 minutes");
    timer.expires_after(std::chrono::milliseconds(50));
    co_await timer.async_wait(asio::use_awaitable);
  }
}

// Runs `work` on `io` to its end; rethrows its exception.
template <typename Awaitable>
auto run_on(asio::io_context& io, Awaitable work) {
  std::exception_ptr failure;
  using Value = typename Awaitable::value_type;
  if constexpr (std::is_void_v<Value>) {
    asio::co_spawn(io, std::move(work), [&failure](std::exception_ptr e) { failure = e; });
    io.restart();
    io.run();
    if (failure) std::rethrow_exception(failure);
  } else {
    std::optional<Value> result;
    asio::co_spawn(io, std::move(work), [&failure, &result](std::exception_ptr e, Value value) {
      failure = e;
      if (!e) result = std::move(value);
    });
    io.restart();
    io.run();
    if (failure) std::rethrow_exception(failure);
    return std::move(*result);
  }
}

// All clients at once, each its own slice of `bodies`; every sample.
struct InteractiveRun {
  std::vector<Sample> samples;
  double seconds = 0;
};
InteractiveRun run_interactive(asio::io_context& io, uint16_t port, const std::vector<std::vector<std::string>>& bodies) {
  std::vector<std::vector<Sample>> per_client(bodies.size());
  std::exception_ptr failure;
  const Clock::time_point start = Clock::now();
  for (size_t client = 0; client < bodies.size(); ++client) {
    asio::co_spawn(io, interactive_client(port, &bodies[client], &per_client[client]), [&failure](std::exception_ptr e) {
      if (e && !failure) failure = e;
    });
  }
  io.restart();
  io.run();
  if (failure) std::rethrow_exception(failure);
  InteractiveRun run;
  run.seconds = ms_between(start, Clock::now()) / 1000.0;
  for (const auto& samples : per_client) run.samples.insert(run.samples.end(), samples.begin(), samples.end());
  return run;
}

struct Report {
  std::string model;
  std::string store;
  bool yield_to_prefill = true;
  InteractiveRun baseline, backlog, after;  // after: once drained, to show drift
  int64_t backlog_left = 0;  // jobs not yet terminal when (c) ended
  int64_t submissions = 0, requests = 0;
  double submit_seconds = 0;
  std::vector<double> submit_latencies_ms;
  double complete_seconds = 0;
  JobCounts jobs, items;
  int server_exit = 0;
};

std::vector<double> ttfts(const InteractiveRun& run) {
  std::vector<double> values;
  for (const Sample& sample : run.samples) values.push_back(sample.ttft_ms);
  return values;
}
std::vector<double> latencies(const InteractiveRun& run) {
  std::vector<double> values;
  for (const Sample& sample : run.samples) values.push_back(sample.latency_ms);
  return values;
}

double ratio(double a, double b) { return b > 0 ? a / b : 0.0; }

json::object interactive_json(const InteractiveRun& run) {
  json::object out;
  out["requests"] = run.samples.size();
  out["seconds"] = run.seconds;
  out["ttft_ms_p50"] = quantile(ttfts(run), 0.5);
  out["ttft_ms_p95"] = quantile(ttfts(run), 0.95);
  out["latency_ms_p50"] = quantile(latencies(run), 0.5);
  out["latency_ms_p95"] = quantile(latencies(run), 0.95);
  return out;
}

void print_json(const AsyncBenchOptions& o, const Report& r) {
  json::object out;
  out["workload"] = "async";
  out["model"] = r.model;
  out["store"] = r.store;
  out["threads"] = o.threads;
  out["mode"] = batching(o) ? "batch" : "single";
  out["batch_size"] = batching(o) ? o.batch_size : 1;
  out["clients"] = o.clients;
  out["requests_per_client"] = o.requests;
  out["prompt_tokens"] = o.prompt_tokens;
  out["max_tokens"] = o.max_tokens;
  out["async_max_in_flight"] = o.async_max_in_flight;
  out["async_max_interactive"] = o.async_max_interactive;
  out["yield_to_prefill"] = r.yield_to_prefill;
  out["baseline"] = interactive_json(r.baseline);
  json::object backlog = interactive_json(r.backlog);
  backlog["jobs_left_at_end"] = r.backlog_left;
  out["backlog"] = std::move(backlog);
  out["after_drain"] = interactive_json(r.after);
  out["ttft_p95_ratio"] = ratio(quantile(ttfts(r.backlog), 0.95), quantile(ttfts(r.baseline), 0.95));
  out["ttft_p50_ratio"] = ratio(quantile(ttfts(r.backlog), 0.5), quantile(ttfts(r.baseline), 0.5));
  out["ttft_p95_ratio_target"] = kTargetRatio;
  // The same ratio against the load run again once the backlog drained:
  // far from ttft_p95_ratio, the machine's speed drifted during the run.
  out["ttft_p95_ratio_after_drain"] = ratio(quantile(ttfts(r.backlog), 0.95), quantile(ttfts(r.after), 0.95));
  json::object submit;
  submit["jobs"] = r.submissions;
  submit["requests"] = r.requests;
  submit["seconds"] = r.submit_seconds;
  submit["jobs_per_s"] = ratio(static_cast<double>(r.submissions), r.submit_seconds);
  submit["requests_per_s"] = ratio(static_cast<double>(r.requests), r.submit_seconds);
  submit["latency_ms_p50"] = quantile(r.submit_latencies_ms, 0.5);
  submit["latency_ms_p95"] = quantile(r.submit_latencies_ms, 0.95);
  out["submit"] = std::move(submit);
  json::object complete;
  complete["seconds"] = r.complete_seconds;
  complete["jobs_per_s"] = ratio(static_cast<double>(r.submissions), r.complete_seconds);
  complete["requests_per_s"] = ratio(static_cast<double>(r.requests), r.complete_seconds);
  complete["jobs_succeeded"] = r.jobs.succeeded;
  complete["jobs_failed"] = r.jobs.failed;
  complete["requests_succeeded"] = r.items.succeeded;
  complete["requests_failed"] = r.items.failed;
  out["complete"] = std::move(complete);
  out["server_exit_code"] = r.server_exit;
  std::fprintf(stdout, "%s\n", json::serialize(out).c_str());
}

void print_table(const AsyncBenchOptions& o, const Report& r) {
  auto line = [](const char* name, const InteractiveRun& run, const std::string& extra) {
    fmt::print("{:<28} {:>5} {:>10.1f} {:>10.1f} {:>12.1f} {:>12.1f}  {}\n", name, run.samples.size(),
               quantile(ttfts(run), 0.5), quantile(ttfts(run), 0.95), quantile(latencies(run), 0.5),
               quantile(latencies(run), 0.95), extra);
  };
  fmt::print("async bench: model {}, store {}, {} thread(s); {} {} job(s) of {} request(s); {} client(s) x {} "
             "request(s), prompt ~{} tokens, max_tokens {}; async max_in_flight {}, max_interactive {}, "
             "yield_to_prefill {}\n",
             r.model, r.store, o.threads, r.submissions, batching(o) ? "Workers AI batch" : "single", r.requests,
             o.clients, o.requests, o.prompt_tokens, o.max_tokens, o.async_max_in_flight, o.async_max_interactive,
             r.yield_to_prefill ? "on" : "off");
  fmt::print("{:<28} {:>5} {:>10} {:>10} {:>12} {:>12}\n", "interactive", "n", "TTFT p50", "TTFT p95",
             "latency p50", "latency p95");
  line("a) no backlog (ms)", r.baseline, "");
  line("c) backlog draining (ms)", r.backlog, fmt::format("({} job(s) still pending at the end)", r.backlog_left));
  line("e) drained again (ms)", r.after, "(shows drift)");
  const double p95_ratio = ratio(quantile(ttfts(r.backlog), 0.95), quantile(ttfts(r.baseline), 0.95));
  fmt::print("TTFT p95 backlog / baseline: {:.2f} (target <= {:.1f}: {}); backlog / drained again: {:.2f}\n",
             p95_ratio, kTargetRatio, p95_ratio <= kTargetRatio ? "met" : "MISSED",
             ratio(quantile(ttfts(r.backlog), 0.95), quantile(ttfts(r.after), 0.95)));
  fmt::print("b) submitted: {} job(s) in {:.3f} s = {:.1f} jobs/s, {:.1f} requests/s (ack p50 {:.1f} ms, p95 {:.1f} ms)\n",
             r.submissions, r.submit_seconds, ratio(static_cast<double>(r.submissions), r.submit_seconds),
             ratio(static_cast<double>(r.requests), r.submit_seconds), quantile(r.submit_latencies_ms, 0.5),
             quantile(r.submit_latencies_ms, 0.95));
  fmt::print("d) completed: {} job(s) in {:.3f} s from the first submit = {:.2f} jobs/s, {:.2f} requests/s; "
             "jobs succeeded {}, failed {}; requests succeeded {}, failed {}\n",
             r.jobs.succeeded + r.jobs.failed, r.complete_seconds,
             ratio(static_cast<double>(r.submissions), r.complete_seconds),
             ratio(static_cast<double>(r.requests), r.complete_seconds), r.jobs.succeeded, r.jobs.failed,
             r.items.succeeded, r.items.failed);
  std::fflush(stdout);
}

// The four phases against the running server.
void measure(const AsyncBenchOptions& o, const Workload& workload, uint16_t port, Report& r) {
  asio::io_context io;
  run_on(io, wait_ready(port));
  size_t index = 0;
  auto interactive_bodies = [&](int32_t per_client) {
    std::vector<std::vector<std::string>> bodies(static_cast<size_t>(o.clients));
    for (auto& client : bodies) {
      for (int32_t request = 0; request < per_client; ++request) client.push_back(workload.interactive(index++));
    }
    return bodies;
  };
  run_interactive(io, port, interactive_bodies(1));  // warm-up, not reported
  const auto baseline = interactive_bodies(o.requests);
  const auto backlog = interactive_bodies(o.requests);
  const auto after = interactive_bodies(o.requests);
  Submissions work;
  work.batch = batching(o);
  for (int32_t first = 0; first < o.jobs;) {
    const int32_t count = batching(o) ? std::min(o.batch_size, o.jobs - first) : 1;
    work.bodies.push_back(batching(o) ? workload.workers_ai_batch(index, static_cast<size_t>(count))
                                  : workload.single_job(index));
    index += static_cast<size_t>(count);
    first += count;
  }

  r.baseline = run_interactive(io, port, baseline);

  std::exception_ptr failure;
  const Clock::time_point submit_start = Clock::now();
  for (int32_t connection = 0; connection < o.submit_connections; ++connection) {
    asio::co_spawn(io, submitter(port, &work), [&failure](std::exception_ptr e) {
      if (e && !failure) failure = e;
    });
  }
  io.restart();
  io.run();
  if (failure) std::rethrow_exception(failure);
  r.submit_seconds = ms_between(submit_start, Clock::now()) / 1000.0;
  r.submissions = static_cast<int64_t>(work.job_ids.size());
  r.requests = o.jobs;
  r.submit_latencies_ms = work.latencies_ms;

  r.backlog = run_interactive(io, port, backlog);
  r.backlog_left = count_jobs(run_on(io, statuses_now(port)), work.job_ids).pending;

  const Drained drained = run_on(io, wait_drained(port, &work.job_ids, o.timeout_s));
  r.complete_seconds = ms_between(submit_start, drained.at) / 1000.0;
  r.jobs = drained.jobs;
  if (batching(o)) {
    r.items = run_on(io, workers_ai_item_counts(port, &work.job_ids));
  } else {
    r.items = r.jobs;
  }
  r.after = run_interactive(io, port, after);
}

}  // namespace

void run_async_bench(const AsyncBenchOptions& o) {
  check_options(o);
  TempDir dir;
  const std::filesystem::path model =
      o.model_path.empty() ? make_tiny_model(o, dir.path()) : model::resolve_model_path(o.model_path);
  const gguf::GgufFile file = gguf::GgufFile::open(model);
  const tokenizer::Tokenizer tok = tokenizer::Tokenizer::from_gguf(file);
  const Workload workload(o, tok);

  std::vector<bool> yields;
  if (o.yield != "on") yields.push_back(false);
  if (o.yield != "off") yields.push_back(true);
  for (size_t run = 0; run < yields.size(); ++run) {
    const std::string store =
        o.store.empty() ? fmt::format("sqlite:{}", (dir.path() / fmt::format("jobs-{}.db", run)).string()) : o.store;
    const std::filesystem::path config = dir.path() / fmt::format("serve-{}.yaml", run);
    {
      std::ofstream out(config);
      out << serve_config_yaml(o, model, store, yields[run]);
      if (!out) throw_error(ErrorCode::kIo, "async bench: cannot write {}", config.string());
    }
    Report report;
    report.model = o.model_path.empty() ? "tiny (made)" : model.filename().string();
    report.store = store_kind(store);
    report.yield_to_prefill = yields[run];
    ServeProcess serve(config, dir.path() / fmt::format("serve-{}.log", run), std::chrono::minutes(5),
                       o.server_binary);
    try {
      measure(o, workload, serve.port(), report);
    } catch (const std::exception& e) {
      throw_error(ErrorCode::kIo, "{}\nthe server's log ends:\n{}", e.what(), serve.log_tail());
    }
    report.server_exit = serve.stop(std::chrono::seconds(30));
    if (report.server_exit != 0) {
      std::fprintf(stderr, "async bench: the server exited with %d after SIGTERM; its log ends:\n%s\n",
                   report.server_exit, serve.log_tail().c_str());
    }
    if (o.json) {
      print_json(o, report);
    } else {
      print_table(o, report);
    }
  }
}

}  // namespace tether::cli
