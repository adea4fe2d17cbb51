// The async routes through the whole HTTP stack on a real SQLite store:
// Workers AI queueRequest, OpenAI files and batches, single async requests,
// idempotency, webhooks and tenants. Items are finished here the way the
// dispatcher finishes them (claim, then complete with the invoked answer).

#include "api/async_api.h"

#include <algorithm>
#include <atomic>
#include <functional>
#include <filesystem>
#include <memory>
#include <string>

#include <boost/asio/thread_pool.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include "../http/test_server.h"
#include "api/api_service.h"
#include "test_paths.h"

namespace tether::api {
namespace {

using tether::testing::RawResponse;
using tether::testing::TestServer;
namespace json = boost::json;

constexpr int64_t kStart = 1'700'000'000'000;  // the store's clock, unix ms

const char* kChatAnswer =
    R"({"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"tiny","choices":[{"index":0,)"
    R"("message":{"role":"assistant","content":"four"},"finish_reason":"stop"}],)"
    R"("usage":{"prompt_tokens":7,"completion_tokens":2,"total_tokens":9}})";
const char* kBadRequestAnswer =
    R"({"error":{"message":"'temperature' must be at most 2","type":"invalid_request_error",)"
    R"("param":"temperature","code":"invalid_value"}})";

class AsyncApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = tether::testing::make_temp_dir("async_api");
    store::StoreOptions store_options;
    store_options.clock = [this] { return now_ms_.load(); };
    store_ = store::open_job_store("sqlite:" + (dir_ / "jobs.db").string(), store_options);
    pool_ = std::make_unique<boost::asio::thread_pool>(2);
    AsyncApiOptions options;
    options.model_exists = [](const std::string& model) { return model == "tiny" || model == "@cf/test/tiny"; };
    options.tenant = [](const http::Request& request) { return std::string(request.header("x-tenant").value_or("")); };
    options.check_webhook = [](const std::string& url) -> std::optional<std::string> {
      if (url.rfind("http://hooks.test/", 0) == 0) return std::nullopt;
      return "not on the webhook allowlist";
    };
    options.on_submitted = [this] { ++submitted_; };
    options.default_completion_window = std::chrono::minutes(10);
    async_ = std::make_unique<AsyncApi>(*store_, *pool_, options);
    service_ = std::make_unique<ApiService>(std::vector<std::shared_ptr<ServedModel>>{}, nullptr);
    service_->set_async(async_.get());
    server_ = std::make_unique<TestServer>();
    service_->register_routes(server_->router());
    async_->register_routes(server_->router());
    server_->start();
  }
  void TearDown() override {
    server_.reset();
    service_.reset();
    async_.reset();
    pool_->join();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  RawResponse send(const std::string& bytes) {
    auto response = tether::testing::raw_request(server_->port(), bytes);
    EXPECT_TRUE(response.has_value());
    return response.value_or(RawResponse{});
  }
  RawResponse post(const std::string& path, const std::string& body, const std::string& headers = "") {
    return send(tether::testing::post_request(path, body, headers));
  }
  RawResponse get(const std::string& path, const std::string& headers = "") {
    return send(tether::testing::get_request(path, headers));
  }
  static json::object body_of(const RawResponse& response) { return json::parse(response.body).as_object(); }

  // Uploads JSONL as multipart/form-data, as the OpenAI SDKs do.
  RawResponse upload(const std::string& jsonl, const std::string& purpose = "batch",
                     const std::string& headers = "") {
    const std::string b = "----tetherboundary42";
    const std::string body = "--" + b + "\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\n" + purpose +
                             "\r\n--" + b +
                             "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"requests.jsonl\"\r\n"
                             "Content-Type: application/jsonl\r\n\r\n" +
                             jsonl + "\r\n--" + b + "--\r\n";
    return send("POST /v1/files HTTP/1.1\r\nHost: test\r\ncontent-type: multipart/form-data; boundary=" + b +
                "\r\ncontent-length: " + std::to_string(body.size()) + "\r\n" + headers + "\r\n" + body);
  }
  std::string upload_id(const std::string& jsonl) {
    RawResponse response = upload(jsonl);
    EXPECT_EQ(response.status, 200) << response.body;
    return std::string(body_of(response).at("id").as_string());
  }

  static std::string batch_line(const std::string& custom_id, const std::string& model = "tiny",
                                const std::string& url = "/v1/chat/completions") {
    return R"({"custom_id": ")" + custom_id + R"(", "method": "POST", "url": ")" + url +
           R"(", "body": {"model": ")" + model + R"(", "messages": [{"role": "user", "content": "2+2?"}]}})";
  }

  // Runs every queued item the way the dispatcher would: `outcome(index)`.
  void finish_all(const std::function<store::ItemOutcome(const store::Claim&)>& outcome) {
    for (const store::Claim& claim : store_->claim("worker-1", {}, 100, 60'000)) {
      ASSERT_TRUE(store_->complete("worker-1", claim.item.job_id, claim.item.index, outcome(claim)));
    }
  }
  static store::ItemOutcome answered(int status, const std::string& body, int64_t prompt = 0,
                                     int64_t completion = 0) {
    store::ItemOutcome outcome;
    outcome.status = status < 300 ? store::ItemStatus::kSucceeded : store::ItemStatus::kFailed;
    outcome.http_status = status;
    outcome.result = body;
    outcome.prompt_tokens = prompt;
    outcome.completion_tokens = completion;
    return outcome;
  }

  std::filesystem::path dir_;
  std::atomic<int64_t> now_ms_{kStart};
  std::atomic<int> submitted_{0};
  std::unique_ptr<store::JobStore> store_;
  std::unique_ptr<boost::asio::thread_pool> pool_;
  std::unique_ptr<AsyncApi> async_;
  std::unique_ptr<ApiService> service_;
  std::unique_ptr<TestServer> server_;
};

// Workers AI --------------------------------------------------------------

TEST_F(AsyncApiTest, WorkersAiQueuesThenAnswersEveryResponse) {
  RawResponse queued = post("/ai/run/@cf/test/tiny?queueRequest=true",
                            R"({"requests": [{"prompt": "hello", "external_reference": "ref-1"},)"
                            R"( {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 3}]})");
  ASSERT_EQ(queued.status, 200) << queued.body;
  json::object body = body_of(queued);
  EXPECT_EQ(body.at("success"), true);
  EXPECT_EQ(body.at("errors").as_array().size(), 0u);
  EXPECT_EQ(body.at("result").at("status"), "queued");
  EXPECT_EQ(body.at("result").at("model"), "@cf/test/tiny");
  const std::string id(body.at("result").at("request_id").as_string());
  EXPECT_EQ(id.rfind("job_", 0), 0u);
  EXPECT_EQ(submitted_.load(), 1);

  // Committed as one job of two items, external_reference kept apart.
  std::optional<store::Job> job = store_->get_job(id);
  ASSERT_TRUE(job.has_value());
  EXPECT_EQ(job->kind, "workers_ai");
  EXPECT_EQ(job->endpoint, "/ai/run");
  EXPECT_EQ(job->deadline_ms, kStart + 10 * 60'000);
  std::vector<store::Item> items = store_->get_items(id);
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0].custom_id, "\"ref-1\"");
  EXPECT_EQ(json::parse(items[0].request), json::parse(R"({"prompt": "hello"})"));
  EXPECT_EQ(items[1].custom_id, "");

  // Polled with the body alone, as the binding does.
  const std::string poll = R"({"request_id": ")" + id + R"("})";
  EXPECT_EQ(body_of(post("/ai/run/@cf/test/tiny", poll)).at("result").at("status"), "queued");
  std::vector<store::Claim> claims = store_->claim("worker-1", {}, 1, 60'000);
  ASSERT_EQ(claims.size(), 1u);
  EXPECT_EQ(body_of(post("/ai/run/@cf/test/tiny?queueRequest=true", poll)).at("result").at("status"), "running");

  ASSERT_TRUE(store_->complete(
      "worker-1", id, 0,
      answered(200, R"({"result": {"response": "hi there", "tool_calls": [], "usage": {"prompt_tokens": 5,)"
                    R"( "completion_tokens": 2, "total_tokens": 7}}, "success": true, "errors": [], "messages": []})",
               5, 2)));
  finish_all([](const store::Claim&) {
    return answered(400, R"({"result": null, "success": false, "errors": [{"code": 400, "message": "bad input"}],)"
                         R"( "messages": []})");
  });
  RawResponse done = post("/ai/run/@cf/test/tiny", poll);
  ASSERT_EQ(done.status, 200) << done.body;
  const json::object result = body_of(done).at("result").as_object();
  const json::array& responses = result.at("responses").as_array();
  ASSERT_EQ(responses.size(), 2u);
  EXPECT_EQ(responses[0].at("id"), 0);
  EXPECT_EQ(responses[0].at("success"), true);
  EXPECT_EQ(responses[0].at("result").at("response"), "hi there");  // unwrapped from its envelope
  EXPECT_EQ(responses[0].at("external_reference"), "ref-1");
  EXPECT_EQ(responses[1].at("id"), 1);
  EXPECT_EQ(responses[1].at("success"), false);
  EXPECT_TRUE(responses[1].at("result").is_null());
  EXPECT_TRUE(responses[1].at("external_reference").is_null());
  EXPECT_EQ(responses[1].at("errors").at(0).at("message"), "bad input");
  EXPECT_EQ(result.at("usage").at("prompt_tokens"), 5);
  EXPECT_EQ(result.at("usage").at("completion_tokens"), 2);
  EXPECT_EQ(result.at("usage").at("total_tokens"), 7);
}

TEST_F(AsyncApiTest, WorkersAiTakesQueueRequestInTheBodyAndAWebhook) {
  RawResponse queued = post("/accounts/acct/ai/run/tiny",
                            R"({"queueRequest": true, "webhook_url": "http://hooks.test/wa",)"
                            R"( "requests": [{"prompt": "one"}]})");
  ASSERT_EQ(queued.status, 200) << queued.body;
  const std::string id(body_of(queued).at("result").at("request_id").as_string());
  const std::optional<store::Job> job = store_->get_job(id);
  ASSERT_TRUE(job.has_value());
  ASSERT_EQ(job->webhook_urls.size(), 1u);
  EXPECT_EQ(job->webhook_urls[0], "http://hooks.test/wa");
  const std::vector<store::Delivery> deliveries = store_->get_deliveries(id);
  ASSERT_EQ(deliveries.size(), 1u);
  EXPECT_EQ(deliveries[0].event_type, "queued");
}

TEST_F(AsyncApiTest, WorkersAiErrorsComeInItsEnvelope) {
  auto expect_error = [&](const std::string& path, const std::string& body, int status, const std::string& words) {
    RawResponse response = post(path, body);
    EXPECT_EQ(response.status, status) << response.body;
    const json::object envelope = body_of(response);
    EXPECT_EQ(envelope.at("success"), false);
    EXPECT_EQ(envelope.at("errors").at(0).at("code"), json::value(status));
    const std::string message(envelope.at("errors").at(0).at("message").as_string());
    EXPECT_NE(message.find(words), std::string::npos) << message;
  };
  expect_error("/ai/run/tiny", R"({"request_id": "job_000000000000000000000000"})", 404,
               "job_000000000000000000000000");
  expect_error("/ai/run/nope?queueRequest=true", R"({"requests": [{"prompt": "x"}]})", 400, "'nope' does not exist");
  expect_error("/ai/run/tiny?queueRequest=true", R"({"requests": []})", 400, "'requests'");
  expect_error("/ai/run/tiny?queueRequest=true", R"({"requests": [{"prompt": "x"}, {"max_tokens": 2}]})", 400,
               "requests[1]");
  expect_error("/ai/run/tiny?queueRequest=true", R"({"requests": [{"prompt": "x"}, 7]})", 400, "requests[1]");
  expect_error("/ai/run/tiny?queueRequest=true",
               R"({"webhook_url": "http://evil.test/x", "requests": [{"prompt": "x"}]})", 400,
               "'http://evil.test/x' is refused");
  EXPECT_EQ(submitted_.load(), 0);
  EXPECT_TRUE(store_->list_jobs({}).empty());
}

// OpenAI files and batches ------------------------------------------------

TEST_F(AsyncApiTest, FilesUploadAsMultipartOrRawAndReadBack) {
  const std::string jsonl = batch_line("a") + "\n" + batch_line("b") + "\n";
  RawResponse uploaded = upload(jsonl);
  ASSERT_EQ(uploaded.status, 200) << uploaded.body;
  const json::object file = body_of(uploaded);
  const std::string id(file.at("id").as_string());
  EXPECT_EQ(id.rfind("file-", 0), 0u);
  EXPECT_EQ(file.at("object"), "file");
  EXPECT_EQ(file.at("purpose"), "batch");
  EXPECT_EQ(file.at("filename"), "requests.jsonl");
  EXPECT_EQ(file.at("bytes"), json::value(jsonl.size()));
  EXPECT_EQ(file.at("created_at"), kStart / 1000);
  EXPECT_EQ(body_of(get("/v1/files/" + id)), file);
  RawResponse content = get("/v1/files/" + id + "/content");
  ASSERT_EQ(content.status, 200);
  EXPECT_EQ(content.body, jsonl);

  RawResponse raw = post("/v1/files?purpose=batch&filename=raw.jsonl", batch_line("c"));
  ASSERT_EQ(raw.status, 200) << raw.body;
  EXPECT_EQ(body_of(raw).at("filename"), "raw.jsonl");
  EXPECT_EQ(get("/v1/files/" + std::string(body_of(raw).at("id").as_string()) + "/content").body, batch_line("c"));

  EXPECT_EQ(upload(jsonl, "fine-tune").status, 400);
  EXPECT_EQ(upload("").status, 400);
  EXPECT_EQ(post("/v1/files", batch_line("c")).status, 400);  // no purpose
  const std::string unterminated = "--zz\r\nno terminator";
  RawResponse broken = send(
      "POST /v1/files HTTP/1.1\r\nHost: test\r\ncontent-type: multipart/form-data; boundary=zz\r\n"
      "content-length: " + std::to_string(unterminated.size()) + "\r\n\r\n" + unterminated);
  EXPECT_EQ(broken.status, 400);
  EXPECT_NE(broken.body.find("multipart"), std::string::npos) << broken.body;
  EXPECT_EQ(get("/v1/files/file-000000000000000000000000").status, 404);
  EXPECT_EQ(get("/v1/files/" + id, "x-tenant: other\r\n").status, 404);  // another tenant's
}

TEST_F(AsyncApiTest, BatchRunsAndServesOutputAndErrorFiles) {
  const std::string file_id = upload_id(batch_line("first") + "\n" + batch_line("second") + "\r\n\n" +
                                        batch_line("third") + "\n");
  RawResponse created =
      post("/v1/batches", R"({"input_file_id": ")" + file_id +
                              R"(", "endpoint": "/v1/chat/completions", "completion_window": "2h",)"
                              R"( "metadata": {"project": "scan"}})");
  ASSERT_EQ(created.status, 200) << created.body;
  json::object batch = body_of(created);
  const std::string id(batch.at("id").as_string());
  EXPECT_EQ(batch.at("object"), "batch");
  EXPECT_EQ(batch.at("status"), "in_progress");
  EXPECT_EQ(batch.at("endpoint"), "/v1/chat/completions");
  EXPECT_EQ(batch.at("input_file_id"), json::value(file_id));
  EXPECT_EQ(batch.at("completion_window"), "2h");
  EXPECT_EQ(batch.at("created_at"), kStart / 1000);
  EXPECT_EQ(batch.at("expires_at"), kStart / 1000 + 7200);
  EXPECT_TRUE(batch.at("output_file_id").is_null());
  EXPECT_EQ(batch.at("request_counts").at("total"), 3);
  EXPECT_EQ(batch.at("metadata").at("project"), "scan");
  EXPECT_EQ(submitted_.load(), 1);
  const std::vector<store::Item> items = store_->get_items(id);
  ASSERT_EQ(items.size(), 3u);
  EXPECT_EQ(items[2].custom_id, "\"third\"");
  EXPECT_EQ(json::parse(items[0].request).at("model"), "tiny");

  now_ms_ += 5'000;
  finish_all([](const store::Claim& claim) {
    return claim.item.index == 1 ? answered(400, kBadRequestAnswer) : answered(200, kChatAnswer, 7, 2);
  });
  batch = body_of(get("/v1/batches/" + id));
  EXPECT_EQ(batch.at("status"), "completed");  // completed even with a failed request
  EXPECT_EQ(batch.at("request_counts").at("completed"), 2);
  EXPECT_EQ(batch.at("request_counts").at("failed"), 1);
  EXPECT_EQ(batch.at("completed_at"), (kStart + 5'000) / 1000);
  EXPECT_EQ(batch.at("in_progress_at"), (kStart + 5'000) / 1000);
  EXPECT_EQ(batch.at("output_file_id"), json::value(id + "-output"));
  EXPECT_EQ(batch.at("error_file_id"), json::value(id + "-error"));

  RawResponse output = get("/v1/files/" + id + "-output/content");
  ASSERT_EQ(output.status, 200) << output.body;
  ASSERT_EQ(std::count(output.body.begin(), output.body.end(), '\n'), 2);
  const json::object first = json::parse(output.body.substr(0, output.body.find('\n'))).as_object();
  EXPECT_EQ(first.at("custom_id"), "first");
  EXPECT_EQ(first.at("id"), json::value(id + "/0"));
  EXPECT_EQ(first.at("response").at("status_code"), 200);
  EXPECT_EQ(first.at("response").at("body").at("choices").at(0).at("message").at("content"), "four");
  EXPECT_TRUE(first.at("error").is_null());
  const json::object third = json::parse(output.body.substr(output.body.find('\n') + 1)).as_object();
  EXPECT_EQ(third.at("custom_id"), "third");

  RawResponse errors = get("/v1/files/" + id + "-error/content");
  ASSERT_EQ(errors.status, 200);
  const json::object failed = json::parse(errors.body).as_object();
  EXPECT_EQ(failed.at("custom_id"), "second");
  EXPECT_EQ(failed.at("response").at("status_code"), 400);
  EXPECT_EQ(failed.at("error").at("code"), "invalid_value");
  EXPECT_EQ(failed.at("error").at("message"), "'temperature' must be at most 2");

  const json::object output_file = body_of(get("/v1/files/" + id + "-output"));
  EXPECT_EQ(output_file.at("purpose"), "batch_output");
  EXPECT_EQ(output_file.at("bytes"), json::value(output.body.size()));

  const json::object listed = body_of(get("/v1/batches?limit=5"));
  EXPECT_EQ(listed.at("object"), "list");
  ASSERT_EQ(listed.at("data").as_array().size(), 1u);
  EXPECT_EQ(listed.at("data").at(0).at("id"), json::value(id));
  EXPECT_EQ(listed.at("has_more"), false);
}

TEST_F(AsyncApiTest, BatchListPagesNewestFirstAndSkipsOtherKinds) {
  const std::string file_id = upload_id(batch_line("x"));
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    now_ms_ += 1'000;
    ids.push_back(std::string(
        body_of(post("/v1/batches", R"({"input_file_id": ")" + file_id + R"(", "endpoint": "/v1/chat/completions"})"))
            .at("id")
            .as_string()));
    ASSERT_EQ(post("/v1/chat/completions", R"({"model": "tiny", "messages": [{"role": "user", "content": "x"}]})",
                   "x-tether-async: true\r\n")
                  .status,
              202);
  }
  json::object page = body_of(get("/v1/batches?limit=2"));
  ASSERT_EQ(page.at("data").as_array().size(), 2u);
  EXPECT_EQ(page.at("data").at(0).at("id"), json::value(ids[2]));
  EXPECT_EQ(page.at("data").at(1).at("id"), json::value(ids[1]));
  EXPECT_EQ(page.at("has_more"), true);
  page = body_of(get("/v1/batches?limit=2&after=" + ids[1]));
  ASSERT_EQ(page.at("data").as_array().size(), 1u);
  EXPECT_EQ(page.at("data").at(0).at("id"), json::value(ids[0]));
  EXPECT_EQ(page.at("has_more"), false);
  EXPECT_EQ(body_of(get("/v1/jobs?limit=100")).at("data").as_array().size(), 6u);
  EXPECT_EQ(get("/v1/batches?limit=0").status, 400);
  EXPECT_EQ(get("/v1/jobs?status=bogus").status, 400);
}

TEST_F(AsyncApiTest, BatchCreationNamesEachProblem) {
  auto expect_error = [&](const std::string& jsonl, const std::string& request_tail, int status,
                          const std::string& words) {
    const std::string file_id = upload_id(jsonl);
    RawResponse response = post("/v1/batches", R"({"input_file_id": ")" + file_id + "\"" + request_tail + "}");
    EXPECT_EQ(response.status, status) << response.body;
    const std::string message(body_of(response).at("error").at("message").as_string());
    EXPECT_NE(message.find(words), std::string::npos) << message;
    return body_of(response).at("error").as_object();
  };
  const std::string endpoint = R"(, "endpoint": "/v1/chat/completions")";
  expect_error(batch_line("a") + "\n{not json\n", endpoint, 400, "line 2: not valid JSON");
  expect_error(batch_line("a") + "\n" + batch_line("b") + "\n" + batch_line("c", "tiny", "/v1/completions"), endpoint,
               400, "line 3: 'url' must be \"/v1/chat/completions\"");
  expect_error(batch_line("a") + "\n" + batch_line("a"), endpoint, 400, "line 2: custom_id 'a' is used twice");
  expect_error(batch_line("a") + "\n" + batch_line("b", "@cf/test/tiny"), endpoint, 400, "line 2: every request");
  expect_error(R"({"custom_id": "a", "method": "GET", "url": "/v1/chat/completions", "body": {"model": "tiny"}})",
               endpoint, 400, "line 1: 'method'");
  expect_error(R"(["a"])", endpoint, 400, "line 1: expected a JSON object");
  expect_error(R"({"custom_id": "a", "method": "POST", "url": "/v1/chat/completions", "body": {}})", endpoint, 400,
               "line 1: 'body.model'");
  const json::object unknown = expect_error(batch_line("a", "missing"), endpoint, 400, "'missing' does not exist");
  EXPECT_EQ(unknown.at("code"), "model_not_found");
  expect_error(batch_line("a"), R"(, "endpoint": "/v1/embeddings")", 400, "'endpoint' must be");
  expect_error(batch_line("a"), endpoint + R"(, "completion_window": "soon")", 400, "completion_window");
  expect_error(batch_line("a"), endpoint + R"(, "metadata": {"n": 1})", 400, "metadata");
  RawResponse missing = post("/v1/batches", R"({"input_file_id": "file-000000000000000000000000")" + endpoint + "}");
  EXPECT_EQ(missing.status, 404) << missing.body;
  EXPECT_EQ(submitted_.load(), 0);
}

TEST_F(AsyncApiTest, BatchCancelEndsQueuedItemsAndLeavesAnErrorFile) {
  const std::string file_id = upload_id(batch_line("a") + "\n" + batch_line("b"));
  const std::string body = R"({"input_file_id": ")" + file_id + R"(", "endpoint": "/v1/chat/completions"})";
  const std::string running_id(body_of(post("/v1/batches", body)).at("id").as_string());
  ASSERT_EQ(store_->claim("worker-1", {}, 1, 60'000).size(), 1u);  // item 0 runs
  json::object batch = body_of(post("/v1/batches/" + running_id + "/cancel", ""));
  EXPECT_EQ(batch.at("status"), "cancelling");

  const std::string queued_id(body_of(post("/v1/batches", body)).at("id").as_string());
  batch = body_of(post("/v1/batches/" + queued_id + "/cancel", ""));
  EXPECT_EQ(batch.at("status"), "cancelled");
  EXPECT_EQ(batch.at("request_counts").at("failed"), 2);
  EXPECT_TRUE(batch.at("output_file_id").is_null());
  RawResponse errors = get("/v1/files/" + std::string(batch.at("error_file_id").as_string()) + "/content");
  ASSERT_EQ(errors.status, 200);
  EXPECT_NE(errors.body.find("\"code\":\"batch_cancelled\""), std::string::npos) << errors.body;
  EXPECT_EQ(post("/v1/batches/job_000000000000000000000000/cancel", "").status, 404);
  EXPECT_EQ(get("/v1/batches/job_000000000000000000000000").status, 404);
  EXPECT_EQ(get("/v1/files/" + running_id + "-output").status, 404);  // not finished
}

// Single async requests ---------------------------------------------------

TEST_F(AsyncApiTest, SingleAsyncRequestAnswers202AndIsPolled) {
  const std::string request = R"({"model": "tiny", "messages": [{"role": "user", "content": "2+2?"}]})";
  RawResponse accepted = post("/v1/chat/completions", request, "x-tether-async: true\r\n");
  ASSERT_EQ(accepted.status, 202) << accepted.body;
  json::object job = body_of(accepted);
  const std::string id(job.at("id").as_string());
  EXPECT_EQ(job.at("object"), "job");
  EXPECT_EQ(job.at("status"), "queued");
  EXPECT_EQ(job.at("model"), "tiny");
  EXPECT_TRUE(job.at("result").is_null());
  EXPECT_EQ(accepted.header("location"), "/v1/jobs/" + id);
  const std::vector<store::Item> items = store_->get_items(id);
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(json::parse(items[0].request), json::parse(request));
  EXPECT_EQ(store_->get_job(id)->endpoint, "/v1/chat/completions");

  EXPECT_EQ(body_of(get("/v1/jobs/" + id)).at("status"), "queued");
  now_ms_ += 2'000;
  finish_all([](const store::Claim&) { return answered(200, kChatAnswer, 7, 2); });
  job = body_of(get("/v1/jobs/" + id));
  EXPECT_EQ(job.at("status"), "succeeded");
  EXPECT_EQ(job.at("result"), json::parse(kChatAnswer));
  EXPECT_EQ(job.at("finished_at"), (kStart + 2'000) / 1000);
  EXPECT_TRUE(job.at("error").is_null());

  RawResponse completion =
      post("/v1/completions", R"({"model": "tiny", "prompt": "Once"})", "X-Tether-Async: TRUE\r\n");
  ASSERT_EQ(completion.status, 202) << completion.body;
  const std::string completion_id(body_of(completion).at("id").as_string());
  EXPECT_EQ(store_->get_job(completion_id)->endpoint, "/v1/completions");
  finish_all([](const store::Claim&) { return answered(400, kBadRequestAnswer); });
  job = body_of(get("/v1/jobs/" + completion_id));
  EXPECT_EQ(job.at("status"), "failed");
  EXPECT_EQ(job.at("error").at("code"), "invalid_value");
  EXPECT_EQ(job.at("status_code"), 400);

  const json::object listed = body_of(get("/v1/jobs"));
  EXPECT_EQ(listed.at("data").as_array().size(), 2u);
  EXPECT_EQ(body_of(get("/v1/jobs?status=failed")).at("data").as_array().size(), 1u);
}

TEST_F(AsyncApiTest, SingleAsyncRefusesStreamsUnknownModelsAndIds) {
  RawResponse stream = post("/v1/chat/completions",
                            R"({"model": "tiny", "stream": true, "messages": [{"role": "user", "content": "x"}]})",
                            "x-tether-async: true\r\n");
  EXPECT_EQ(stream.status, 400);
  EXPECT_EQ(body_of(stream).at("error").at("param"), "stream");
  RawResponse unknown = post("/v1/chat/completions", R"({"model": "gone", "messages": [{"role": "user", "content": "x"}]})",
                             "x-tether-async: true\r\n");
  EXPECT_EQ(unknown.status, 400);
  EXPECT_EQ(body_of(unknown).at("error").at("code"), "model_not_found");
  EXPECT_EQ(get("/v1/jobs/job_000000000000000000000000").status, 404);
  EXPECT_EQ(post("/v1/jobs/job_000000000000000000000000/cancel", "").status, 404);
  EXPECT_EQ(submitted_.load(), 0);
}

TEST_F(AsyncApiTest, SingleAsyncJobCancels) {
  RawResponse accepted = post("/v1/chat/completions", R"({"model": "tiny", "messages": [{"role": "user", "content": "x"}]})",
                              "x-tether-async: true\r\n");
  const std::string id(body_of(accepted).at("id").as_string());
  const json::object cancelled = body_of(post("/v1/jobs/" + id + "/cancel", ""));
  EXPECT_EQ(cancelled.at("status"), "cancelled");
  EXPECT_EQ(body_of(get("/v1/jobs/" + id)).at("error").at("code"), "batch_cancelled");
  EXPECT_TRUE(store_->claim("worker-1", {}, 10, 60'000).empty());
}

// Idempotency, webhooks, tenants -------------------------------------------

TEST_F(AsyncApiTest, IdempotencyKeyReplaysTheFirstJob) {
  const std::string request = R"({"model": "tiny", "messages": [{"role": "user", "content": "x"}]})";
  const std::string headers = "x-tether-async: true\r\nIdempotency-Key: key-1\r\n";
  RawResponse first = post("/v1/chat/completions", request, headers);
  ASSERT_EQ(first.status, 202) << first.body;
  EXPECT_EQ(first.header("idempotent-replayed"), "");
  RawResponse second = post("/v1/chat/completions", request, headers);
  ASSERT_EQ(second.status, 202) << second.body;
  EXPECT_EQ(second.header("idempotent-replayed"), "true");
  EXPECT_EQ(body_of(second), body_of(first));
  EXPECT_EQ(second.header("location"), first.header("location"));
  EXPECT_EQ(submitted_.load(), 1);
  EXPECT_EQ(store_->list_jobs({}).size(), 1u);

  // The same key from another tenant is another job.
  RawResponse other = post("/v1/chat/completions", request, headers + "x-tenant: t2\r\n");
  EXPECT_NE(body_of(other).at("id"), body_of(first).at("id"));

  // Workers AI and batches replay too; a key reused for another kind is a conflict.
  const std::string wa = R"({"requests": [{"prompt": "x"}]})";
  RawResponse wa_first = post("/ai/run/tiny?queueRequest=true", wa, "Idempotency-Key: key-2\r\n");
  RawResponse wa_again = post("/ai/run/tiny?queueRequest=true", wa, "Idempotency-Key: key-2\r\n");
  EXPECT_EQ(wa_again.header("idempotent-replayed"), "true");
  EXPECT_EQ(body_of(wa_again).at("result").at("request_id"), body_of(wa_first).at("result").at("request_id"));
  const std::string file_id = upload_id(batch_line("a"));
  const std::string batch = R"({"input_file_id": ")" + file_id + R"(", "endpoint": "/v1/chat/completions"})";
  RawResponse batch_first = post("/v1/batches", batch, "Idempotency-Key: key-3\r\n");
  RawResponse batch_again = post("/v1/batches", batch, "Idempotency-Key: key-3\r\n");
  EXPECT_EQ(batch_again.header("idempotent-replayed"), "true");
  EXPECT_EQ(body_of(batch_again).at("id"), body_of(batch_first).at("id"));
  EXPECT_EQ(post("/v1/batches", batch, "Idempotency-Key: key-1\r\n").status, 409);
  EXPECT_EQ(post("/v1/batches", batch, "Idempotency-Key: " + std::string(300, 'k') + "\r\n").status, 400);
}

TEST_F(AsyncApiTest, WebhooksFromTheHeaderAreCheckedAgainstTheAllowlist) {
  const std::string request = R"({"model": "tiny", "messages": [{"role": "user", "content": "x"}]})";
  RawResponse accepted = post("/v1/chat/completions", request,
                              "x-tether-async: true\r\nx-tether-webhook: http://hooks.test/a\r\n"
                              "x-tether-webhook: http://hooks.test/b\r\n");
  ASSERT_EQ(accepted.status, 202) << accepted.body;
  const std::string id(body_of(accepted).at("id").as_string());
  EXPECT_EQ(store_->get_job(id)->webhook_urls, (std::vector<std::string>{"http://hooks.test/a", "http://hooks.test/b"}));
  EXPECT_EQ(store_->get_deliveries(id).size(), 2u);

  RawResponse refused =
      post("/v1/chat/completions", request, "x-tether-async: true\r\nx-tether-webhook: https://attacker.test/x\r\n");
  EXPECT_EQ(refused.status, 400);
  const json::object error = body_of(refused).at("error").as_object();
  EXPECT_NE(std::string(error.at("message").as_string()).find("'https://attacker.test/x' is refused"),
            std::string::npos);
  EXPECT_EQ(error.at("param"), "x-tether-webhook");

  const std::string file_id = upload_id(batch_line("a"));
  RawResponse batch = post("/v1/batches", R"({"input_file_id": ")" + file_id + R"(", "endpoint": "/v1/chat/completions"})",
                           "x-tether-webhook: ftp://hooks.test/a\r\n");
  EXPECT_EQ(batch.status, 400);
  EXPECT_EQ(store_->list_jobs({}).size(), 1u);
}

TEST_F(AsyncApiTest, TenantsSeeOnlyTheirOwnJobsAndFiles) {
  const std::string request = R"({"model": "tiny", "messages": [{"role": "user", "content": "x"}]})";
  RawResponse mine = post("/v1/chat/completions", request, "x-tether-async: true\r\nx-tenant: alice\r\n");
  const std::string id(body_of(mine).at("id").as_string());
  EXPECT_EQ(get("/v1/jobs/" + id, "x-tenant: alice\r\n").status, 200);
  EXPECT_EQ(get("/v1/jobs/" + id, "x-tenant: bob\r\n").status, 404);
  EXPECT_EQ(get("/v1/jobs/" + id).status, 404);  // the default tenant is a tenant too
  EXPECT_EQ(post("/v1/jobs/" + id + "/cancel", "", "x-tenant: bob\r\n").status, 404);
  EXPECT_EQ(body_of(get("/v1/jobs", "x-tenant: bob\r\n")).at("data").as_array().size(), 0u);
  EXPECT_EQ(body_of(get("/v1/jobs", "x-tenant: alice\r\n")).at("data").as_array().size(), 1u);
  EXPECT_EQ(store_->get_job(id)->tenant, "alice");

  RawResponse uploaded = upload(batch_line("a"), "batch", "x-tenant: alice\r\n");
  const std::string file_id(body_of(uploaded).at("id").as_string());
  EXPECT_EQ(post("/v1/batches", R"({"input_file_id": ")" + file_id + R"(", "endpoint": "/v1/chat/completions"})",
                 "x-tenant: bob\r\n")
                .status,
            404);
}

TEST(AsyncApiDisabledTest, AsyncRequestsWithoutAStoreAreRefused) {
  ApiService service(std::vector<std::shared_ptr<ServedModel>>{}, nullptr);
  TestServer server;
  service.register_routes(server.router());
  server.start();
  auto response = tether::testing::raw_request(
      server.port(), tether::testing::post_request("/v1/chat/completions",
                                                   R"({"model": "tiny", "messages": [{"role": "user", "content": "x"}]})",
                                                   "x-tether-async: true\r\n"));
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 400);
  EXPECT_NE(response->body.find("not enabled"), std::string::npos) << response->body;
  response = tether::testing::raw_request(
      server.port(), tether::testing::post_request("/ai/run/tiny?queueRequest=true", R"({"requests": [{"prompt": "x"}]})"));
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 400);
  EXPECT_NE(response->body.find("\"success\":false"), std::string::npos) << response->body;
}

}  // namespace
}  // namespace tether::api
