// Webhooks of the async API through the real `tether serve`: a local
// receiver fails each event's first two tries with 500 and verifies every
// signature; per-job targets must match the allowlist; a tenant's jobs
// notify the tenant's own URL, signed with its own secret.

#include <signal.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include "async_serve.h"
#include "jobs/webhook_signer.h"
#include "router/fake_upstreams.h"

namespace tether::testing {
namespace {

using namespace std::chrono_literals;
namespace json = boost::json;

constexpr const char* kSecret = "whsec-main";
constexpr const char* kTenantSecret = "whsec-acme";
constexpr int kFailedTries = 2;

struct Hook {
  std::string path, event_id, type, request_id;
  int status = 0;  // what the receiver answered
  bool signature_valid = false;
};

// Answers 500 to the first two tries of each event id, 200 after; checks
// each signature with the secret of its path.
class FlakyReceiver {
 public:
  FlakyReceiver() {
    for (const auto& [path, secret] : std::map<std::string, std::string>{{"/hooks/x", kSecret},
                                                                         {"/hooks/acme", kTenantSecret}}) {
      server_.router().add("POST", path, [this, secret](http::Exchange& exchange) -> boost::asio::awaitable<void> {
        const int status = record(exchange, secret);
        if (status != 200) {
          std::chrono::milliseconds hold{0};
          {
            std::lock_guard lock(mutex_);
            hold = hold_;
            ++holding_;
          }
          co_await async_sleep(hold);
          std::lock_guard lock(mutex_);
          --holding_;
        }
        co_await exchange.respond(status, status == 200 ? "ok" : "not yet");
      });
    }
    server_.start();
  }

  // While set, every try fails (500), after `hold`.
  void set_down(bool down, std::chrono::milliseconds hold = std::chrono::milliseconds(0)) {
    std::lock_guard lock(mutex_);
    down_ = down;
    hold_ = hold;
  }
  // Failing tries not answered yet.
  int holding() {
    std::lock_guard lock(mutex_);
    return holding_;
  }

  std::string url(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(server_.port()) + path; }

  std::vector<Hook> hooks() {
    std::lock_guard lock(mutex_);
    return hooks_;
  }
  // Hooks answered 200 for this job.
  std::set<std::string> delivered_types(const std::string& job_id) {
    std::set<std::string> types;
    for (const Hook& hook : hooks()) {
      if (hook.request_id == job_id && hook.status == 200) types.insert(hook.type);
    }
    return types;
  }

 private:
  int record(http::Exchange& exchange, const std::string& secret) {
    const http::Request& request = exchange.request();
    Hook hook;
    hook.path = request.path;
    hook.event_id = std::string(request.header("x-tether-event-id").value_or(""));
    const std::string timestamp(request.header("x-tether-timestamp").value_or(""));
    const std::string signature(request.header("x-tether-signature").value_or(""));
    const int64_t now_s =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    try {
      hook.signature_valid = jobs::verify(secret, signature, std::stoll(timestamp), request.body, now_s, 300);
      const json::value body = json::parse(request.body);
      hook.type = std::string(body.at("type").as_string());
      hook.request_id = std::string(body.at("payload").at("requestId").as_string());
      if (body.at("metadata").at("eventId").as_string() != hook.event_id) hook.type += " (event id differs)";
    } catch (const std::exception& error) {
      hook.type = std::string("unreadable: ") + error.what();
    }
    std::lock_guard lock(mutex_);
    hook.status = down_ || ++tries_[hook.event_id] <= kFailedTries ? 500 : 200;
    hooks_.push_back(hook);
    return hook.status;
  }

  std::mutex mutex_;
  bool down_ = false;
  std::chrono::milliseconds hold_{0};
  int holding_ = 0;
  std::map<std::string, int> tries_;
  std::vector<Hook> hooks_;
  TestServer server_;  // last: stopped first, while the handlers' state lives
};

constexpr const char* kAuth = "Authorization: Bearer sk-main\r\n";
constexpr const char* kTenantAuth = "Authorization: Bearer sk-acme\r\n";

TEST(AsyncServeWebhookTest, EventsAreSignedRetriedAndDeliveredToJobAndTenantTargets) {
  const ScopedDir scoped("async_serve_webhooks");
  const std::filesystem::path& dir = scoped.path();
  FlakyReceiver receiver;
  const std::string store_url = "sqlite:" + (dir / "jobs.db").string();
  write_text_file(dir / "serve.yaml",
                  async_serve_config_head() + "api_key: sk-main\nasync:\n  store: " + store_url +
                      "\n  poll_interval_ms: 50\n  webhooks:\n    allow: [" + receiver.url("/hooks") +
                      "]\n    secret: " + kSecret +
                      "\n    initial_backoff_ms: 50\n    max_backoff_ms: 200\n    timeout_ms: 2000\n"
                      "  tenants:\n    - name: acme\n      api_key: sk-acme\n      webhook_url: " +
                      receiver.url("/hooks/acme") + "\n      webhook_secret: " + kTenantSecret + "\n");
  ServeChild serve(dir / "serve.yaml", dir / "serve.log");
  const uint16_t port = serve.wait_ready(60s, kAuth);
  ASSERT_NE(port, 0) << serve.log();

  // Targets off the allowlist are refused at submission, naming the URL.
  for (const std::string& refused : {std::string("http://127.0.0.1:1/hooks/x"), receiver.url("/hooksx/y"),
                                     receiver.url("/other")}) {
    const RawResponse response =
        http_call(port, post_request("/v1/chat/completions", chat_body(8, "refused"),
                                     std::string(kAuth) + "x-tether-async: true\r\nx-tether-webhook: " + refused + "\r\n"));
    EXPECT_EQ(response.status, 400) << response.body;
    EXPECT_NE(response.body.find(refused), std::string::npos) << response.body;
  }

  const RawResponse submitted =
      http_call(port, post_request("/v1/chat/completions", chat_body(16, "notify me"),
                                   std::string(kAuth) + "x-tether-async: true\r\nx-tether-webhook: " +
                                       receiver.url("/hooks/x") + "\r\n"));
  ASSERT_EQ(submitted.status, 202) << submitted.body;
  const std::string job_id(json_of(submitted).at("id").as_string());
  // The tenant's job names no webhook: the tenant's own gets its events.
  const RawResponse tenant_submitted = http_call(
      port, post_request("/v1/chat/completions", chat_body(16, "tenant"), std::string(kTenantAuth) + "x-tether-async: true\r\n"));
  ASSERT_EQ(tenant_submitted.status, 202) << tenant_submitted.body;
  const std::string tenant_job_id(json_of(tenant_submitted).at("id").as_string());

  const std::set<std::string> all_events = {"tether.model.batch.queued", "tether.model.batch.running",
                                            "tether.model.batch.succeeded"};
  ASSERT_TRUE(wait_until([&] {
    return receiver.delivered_types(job_id) == all_events && receiver.delivered_types(tenant_job_id) == all_events;
  })) << serve.log();

  // Each event: two failed tries, then the delivery, all with one event id
  // and a valid signature, at the job's or the tenant's URL.
  std::map<std::string, std::vector<Hook>> by_event;
  for (const Hook& hook : receiver.hooks()) {
    EXPECT_TRUE(hook.signature_valid) << hook.path << " " << hook.type;
    by_event[hook.event_id].push_back(hook);
  }
  EXPECT_EQ(by_event.size(), 6u);
  for (const auto& [event_id, tries] : by_event) {
    SCOPED_TRACE(event_id);
    ASSERT_EQ(tries.size(), static_cast<size_t>(kFailedTries + 1));
    for (size_t i = 0; i < tries.size(); ++i) {
      EXPECT_EQ(tries[i].status, i < kFailedTries ? 500 : 200);
      EXPECT_EQ(tries[i].type, tries[0].type);
      EXPECT_EQ(tries[i].request_id, tries[0].request_id);
      EXPECT_EQ(tries[i].path, tries[0].request_id == job_id ? "/hooks/x" : "/hooks/acme");
    }
  }

  // The store says so too (`tether jobs show` beside the running server).
  for (const std::string& id : {job_id, tenant_job_id}) {
    const CliResult shown = run_tether("jobs show " + id + " --json --store '" + store_url + "'", "2>&1");
    ASSERT_EQ(shown.exit_code, 0) << shown.output;
    const json::value view = json::parse(shown.output);
    EXPECT_EQ(view.at("job").at("status").as_string(), "succeeded");
    const json::array& deliveries = view.at("deliveries").as_array();
    EXPECT_EQ(deliveries.size(), 3u) << shown.output;
    for (const json::value& delivery : deliveries) {
      EXPECT_EQ(delivery.at("status").as_string(), "delivered") << shown.output;
      EXPECT_EQ(delivery.at("attempts").as_int64(), kFailedTries) << shown.output;
      EXPECT_EQ(delivery.at("url").as_string(), receiver.url(id == job_id ? "/hooks/x" : "/hooks/acme"));
    }
  }

  serve.signal(SIGTERM);
  EXPECT_EQ(serve.wait_exit(15s), 0) << serve.log();
}

// Events are written with the changes they report (an outbox): those not
// yet delivered when the server is killed are delivered after a restart,
// soon (a try cut short by the kill is held for timeout + 5 s, not 60 s).
TEST(AsyncServeWebhookTest, UndeliveredEventsSurviveAKillNine) {
  const ScopedDir scoped("async_serve_webhooks_kill");
  const std::filesystem::path& dir = scoped.path();
  FlakyReceiver receiver;
  receiver.set_down(true, 300ms);
  write_text_file(dir / "serve.yaml", async_serve_config_head() + "async:\n  store: sqlite:" +
                                          (dir / "jobs.db").string() + "\n  poll_interval_ms: 50\n  webhooks:\n" +
                                          "    allow: [" + receiver.url("/hooks") + "]\n    secret: " + kSecret +
                                          "\n    initial_backoff_ms: 50\n    max_backoff_ms: 100\n" +
                                          "    timeout_ms: 1000\n");
  auto first = std::make_unique<ServeChild>(dir / "serve.yaml", dir / "serve-1.log");
  const uint16_t port = first->wait_ready();
  ASSERT_NE(port, 0) << first->log();
  const RawResponse submitted = http_call(
      port, post_request("/v1/chat/completions", chat_body(16, "outbox"),
                         "x-tether-async: true\r\nx-tether-webhook: " + receiver.url("/hooks/x") + "\r\n"));
  ASSERT_EQ(submitted.status, 202) << submitted.body;
  const std::string job_id(json_of(submitted).at("id").as_string());
  // Every event has been tried and refused at least once, and a try is
  // under way (its delivery claimed) when the server dies.
  ASSERT_TRUE(wait_until([&] {
    std::set<std::string> tried;
    for (const Hook& hook : receiver.hooks()) tried.insert(hook.type);
    return tried.size() == 3 && receiver.holding() > 0;
  })) << first->log();
  first->kill_hard();
  first.reset();

  receiver.set_down(false);
  const auto restarted = std::chrono::steady_clock::now();
  ServeChild second(dir / "serve.yaml", dir / "serve-2.log");
  ASSERT_NE(second.wait_ready(), 0) << second.log();
  ASSERT_TRUE(wait_until([&] {
    return receiver.delivered_types(job_id) == std::set<std::string>{"tether.model.batch.queued",
                                                                      "tether.model.batch.running",
                                                                      "tether.model.batch.succeeded"};
  })) << second.log();
  EXPECT_LT(std::chrono::steady_clock::now() - restarted, 15s);
  for (const Hook& hook : receiver.hooks()) EXPECT_TRUE(hook.signature_valid);
  second.signal(SIGTERM);
  EXPECT_EQ(second.wait_exit(15s), 0) << second.log();
}

}  // namespace
}  // namespace tether::testing
