#include "engine/generation/generator.h"

#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/error.h"
#include "engine/gguf/gguf_file.h"
#include "engine/model/model_maker.h"
#include "engine/model/model_shape.h"
#include "engine/tokenizer/incremental_detokenizer.h"

namespace tether::generation {
namespace {

using tokenizer::TokenId;

// A tiny seeded model (built-in vocabulary), made once for the suite.
std::shared_ptr<const gguf::GgufFile> tiny_file() {
  static const std::shared_ptr<const gguf::GgufFile> file = [] {
    model::MakeModelOptions options;
    options.shape = model::model_shape_preset("tiny");
    options.type = TensorType::kQ8_0;
    options.seed = 3;
    options.threads = 1;
    return std::make_shared<const gguf::GgufFile>(
        gguf::GgufFile::from_bytes(model::ModelMaker(options).write_to_memory(), "tiny"));
  }();
  return file;
}

class GeneratorTest : public ::testing::Test {
 protected:
  GeneratorTest()
      : tokenizer_(tokenizer::Tokenizer::from_gguf(*tiny_file())),
        model_(model::LlamaModel::load(tiny_file())),
        pool_(1) {}

  GenerationRequest greedy(std::string prompt, int32_t max_tokens) const {
    GenerationRequest request;
    request.prompt = std::move(prompt);
    request.max_tokens = max_tokens;
    request.sampling.temperature = 0.0f;
    request.sampling.ignore_eos = true;
    return request;
  }

  std::vector<GenerationResult> run(const std::vector<GenerationRequest>& requests,
                                    Generator::Options options = {}) {
    Generator generator(model_, tokenizer_, pool_, options);
    return generator.generate(requests);
  }

  tokenizer::Tokenizer tokenizer_;
  model::LlamaModel model_;
  kernels::ThreadPool pool_;
};

TEST_F(GeneratorTest, StopsAtMaxTokensAndStreamsTheDecodedText) {
  Generator generator(model_, tokenizer_, pool_);
  std::string streamed;
  const std::vector<GenerationRequest> requests{greedy("The quick brown fox", 20)};
  const auto results = generator.generate(requests, [&](size_t idx, std::string_view text) {
    EXPECT_EQ(idx, 0u);
    EXPECT_FALSE(text.empty());
    streamed.append(text);
  });
  ASSERT_EQ(results.size(), 1u);
  const GenerationResult& r = results[0];
  EXPECT_EQ(r.finish_reason, FinishReason::kLength);
  EXPECT_EQ(r.usage.completion_tokens, 20);
  EXPECT_EQ(r.tokens.size(), 20u);
  EXPECT_EQ(r.usage.prompt_tokens,
            static_cast<int32_t>(tokenizer_.encode("The quick brown fox").size()));
  EXPECT_EQ(streamed, r.text);
  // The stream holds split UTF-8 characters and replaces broken ones, as the
  // incremental detokenizer does.
  tokenizer::IncrementalDetokenizer detokenizer(tokenizer_);
  std::string expected;
  for (const TokenId id : r.tokens) expected += detokenizer.push(id);
  expected += detokenizer.flush();
  EXPECT_EQ(r.text, expected);
  EXPECT_GT(r.usage.ttft_ms, 0.0);
  EXPECT_GE(r.usage.decode_ms, 0.0);
  EXPECT_GT(generator.last_kv_bytes(), 0u);
}

TEST_F(GeneratorTest, BatchedSequencesMatchOneAtATime) {
  const std::vector<GenerationRequest> requests{greedy("Hello there", 12), greedy("A much longer prompt about cats and dogs", 7),
                                                greedy("x", 16)};
  const auto batched = run(requests);
  ASSERT_EQ(batched.size(), 3u);
  for (size_t i = 0; i < requests.size(); ++i) {
    const auto alone = run({requests[i]});
    EXPECT_EQ(batched[i].tokens, alone[0].tokens) << i;
    EXPECT_EQ(batched[i].text, alone[0].text) << i;
    EXPECT_EQ(batched[i].usage.completion_tokens, requests[i].max_tokens) << i;
  }
}

TEST_F(GeneratorTest, ChunkedPrefillGivesTheSameTokens) {
  const std::vector<GenerationRequest> requests{
      greedy("one two three four five six seven eight nine ten eleven twelve", 8), greedy("short", 8)};
  const auto whole = run(requests);
  const auto chunked = run(requests, {.block_tokens = 4, .max_step_tokens = 5});
  for (size_t i = 0; i < requests.size(); ++i) EXPECT_EQ(whole[i].tokens, chunked[i].tokens) << i;
}

TEST_F(GeneratorTest, GreedyIsIdenticalAcrossThreadCounts) {
  const std::vector<GenerationRequest> requests{greedy("Threads should not matter", 16)};
  kernels::ThreadPool two(2);
  Generator generator(model_, tokenizer_, two);
  EXPECT_EQ(generator.generate(requests)[0].tokens, run(requests)[0].tokens);
}

TEST_F(GeneratorTest, StopStringEndsTheSequenceAndIsNotEmitted) {
  const auto plain = run({greedy("Once upon a time", 24)});
  const std::string& text = plain[0].text;
  ASSERT_GE(text.size(), 8u) << text;
  // A stop string taken from the middle of the greedy output.
  const std::string stop = text.substr(text.size() / 2, 3);
  GenerationRequest request = greedy("Once upon a time", 24);
  request.stop = {stop};
  std::string streamed;
  Generator generator(model_, tokenizer_, pool_);
  const auto stopped = generator.generate(std::vector<GenerationRequest>{request},
                                          [&](size_t, std::string_view piece) { streamed.append(piece); });
  EXPECT_EQ(stopped[0].finish_reason, FinishReason::kStop);
  EXPECT_EQ(stopped[0].stop_string, stop);
  EXPECT_EQ(stopped[0].text, text.substr(0, text.find(stop)));
  EXPECT_EQ(streamed, stopped[0].text);
  EXPECT_LE(stopped[0].usage.completion_tokens, plain[0].usage.completion_tokens);
}

TEST_F(GeneratorTest, EndOfGenerationTokenStopsUnlessIgnored) {
  const TokenId eos = tokenizer_.eos_id();
  ASSERT_NE(eos, tokenizer::kNoToken);
  GenerationRequest request = greedy("Hello", 10);
  request.sampling.ignore_eos = false;
  request.sampling.logit_bias = {{eos, 1000.0f}};
  const auto stopped = run({request});
  EXPECT_EQ(stopped[0].finish_reason, FinishReason::kStop);
  EXPECT_EQ(stopped[0].tokens, std::vector<TokenId>{eos});
  EXPECT_EQ(stopped[0].text, "");
  EXPECT_EQ(stopped[0].stop_string, "");

  request.sampling.ignore_eos = true;
  const auto ignored = run({request});
  EXPECT_EQ(ignored[0].finish_reason, FinishReason::kLength);
  EXPECT_EQ(ignored[0].usage.completion_tokens, 10);
}

TEST_F(GeneratorTest, SeededSamplingIsReproducibleAndReportsLogprobs) {
  GenerationRequest request;
  request.prompt = "Sampling test";
  request.max_tokens = 16;
  request.sampling.temperature = 1.0f;
  request.sampling.seed = 11;
  request.sampling.n_logprobs = 3;
  request.sampling.ignore_eos = true;
  const auto a = run({request});
  const auto b = run({request});
  EXPECT_EQ(a[0].tokens, b[0].tokens);
  ASSERT_EQ(a[0].logprobs.size(), a[0].tokens.size());
  for (size_t i = 0; i < a[0].tokens.size(); ++i) {
    EXPECT_EQ(a[0].logprobs[i].id, a[0].tokens[i]);
    EXPECT_LE(a[0].logprobs[i].logprob, 0.0f);
    ASSERT_EQ(a[0].logprobs[i].top_logprobs.size(), 3u);
    EXPECT_GE(a[0].logprobs[i].top_logprobs[0].logprob, a[0].logprobs[i].logprob);
  }
  request.sampling.seed = 12;
  EXPECT_NE(run({request})[0].tokens, a[0].tokens);
}

TEST_F(GeneratorTest, BadRequestsAreRejectedBeforeAnyCompute) {
  GenerationRequest zero = greedy("hi", 0);
  EXPECT_THROW(run({zero}), Error);
  GenerationRequest empty = greedy("", 4);
  empty.add_special = false;
  EXPECT_THROW(run({empty}), Error);
  GenerationRequest bad_id = greedy("", 4);
  bad_id.prompt_tokens = {1, 999999};
  EXPECT_THROW(run({bad_id}), Error);
  GenerationRequest too_long = greedy("", 4);
  too_long.prompt_tokens.assign(static_cast<size_t>(model_.config().context_length), 5);
  EXPECT_THROW(run({too_long}), Error);
  GenerationRequest bad_sampling = greedy("hi", 4);
  bad_sampling.sampling.top_p = 2.0f;
  EXPECT_THROW(run({bad_sampling}), Error);
  EXPECT_TRUE(run({}).empty());
}

}  // namespace
}  // namespace tether::generation
