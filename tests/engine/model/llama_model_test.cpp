#include "engine/model/llama_model.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <numeric>
#include <thread>

#include "common/error.h"
#include "engine/gguf/gguf_writer.h"
#include "engine/model/test_models.h"

namespace tether::model {
namespace {

using kernels::KernelPath;
using kernels::ThreadPool;
using testing::make_model;
using testing::ReferenceModel;
using testing::small_options;

std::vector<TokenId> prompt_tokens(int n, int vocab, int salt = 0) {
  std::vector<TokenId> tokens(n);
  for (int i = 0; i < n; ++i) tokens[i] = (i * 131 + 17 + salt * 59) % vocab;
  return tokens;
}

// A block table of consecutive, deliberately non-zero-based blocks.
std::vector<kv::BlockId> block_table(int n_blocks, int first) {
  std::vector<kv::BlockId> table(n_blocks);
  for (int i = 0; i < n_blocks; ++i) table[i] = kv::BlockId{first + i};
  return table;
}

// Runs one sequence token range and returns all its logits rows.
std::vector<std::vector<float>> run(LlamaModel& model, kv::KvBlockStorage& kv,
                                    std::span<const TokenId> tokens, int start_pos,
                                    std::span<const kv::BlockId> table, ThreadPool& pool,
                                    KernelPath path, bool all_logits = true) {
  SequenceInput input{tokens, start_pos, table, all_logits};
  ForwardOutput out;
  model.forward({&input, 1}, kv, out, pool, path);
  std::vector<std::vector<float>> rows;
  for (int r = 0; r < out.n_rows(); ++r) rows.emplace_back(out.row(r).begin(), out.row(r).end());
  return rows;
}

int argmax(std::span<const float> logits) {
  return static_cast<int>(std::max_element(logits.begin(), logits.end()) - logits.begin());
}

struct TypeTolerance {
  TensorType type;
  // Max |engine - reference| over all logits, and the RMS of that
  // difference, as fractions of the reference logits' RMS. F32 differs only
  // by float rounding; the others by the kernels' conversion of activations
  // (to F16/BF16 rows, or Q8_0/Q8_K blocks for the quantized types), which
  // the reference does not do: it computes in double from the same weights.
  double max_tolerance;
  double rms_tolerance;
};

constexpr TypeTolerance kTypes[] = {
    // Measured (tiny models, 9 positions): F32/F16/BF16 max ~2e-6, rms ~4e-7;
    // quantized max 0.07-0.10, rms 0.016-0.024 of the logits' RMS.
    {TensorType::kF32, 2e-5, 5e-6},  {TensorType::kF16, 2e-5, 5e-6},  {TensorType::kBF16, 2e-5, 5e-6},
    {TensorType::kQ8_0, 0.15, 0.035}, {TensorType::kQ4_0, 0.15, 0.035}, {TensorType::kQ4_K, 0.15, 0.035},
    {TensorType::kQ6_K, 0.15, 0.035},
};
constexpr Architecture kArchs[] = {Architecture::kLlama, Architecture::kQwen2,
                                   Architecture::kQwen3};

class ReferenceAgreement
    : public ::testing::TestWithParam<std::tuple<Architecture, TypeTolerance>> {};

TEST_P(ReferenceAgreement, LogitsMatchDoublePrecisionReference) {
  const auto [arch, type] = GetParam();
  auto file = make_model(small_options(arch, type.type));
  auto model = LlamaModel::load(file);
  ReferenceModel reference(*file);
  const auto tokens = prompt_tokens(9, model.config().vocab_size);
  const auto expected = reference.forward(tokens);

  ThreadPool pool(2);
  for (KernelPath path : {KernelPath::kScalar, kernels::best_kernel_path()}) {
    kv::KvBlockStorage kv(model.kv_shape(4, kv::KvType::kF32), 8);
    const auto table = block_table(3, 2);
    // Prefill 6 tokens, then decode the last 3 one by one.
    auto rows = run(model, kv, std::span(tokens).first(6), 0, table, pool, path);
    for (int t = 6; t < 9; ++t) {
      auto step = run(model, kv, std::span(tokens).subspan(t, 1), t, table, pool, path);
      rows.push_back(step[0]);
    }
    ASSERT_EQ(rows.size(), expected.size());
    double sum_sq = 0, max_diff = 0, diff_sq = 0;
    size_t count = 0;
    for (size_t t = 0; t < rows.size(); ++t) {
      for (size_t i = 0; i < rows[t].size(); ++i) {
        sum_sq += expected[t][i] * expected[t][i];
        max_diff = std::max(max_diff, std::abs(rows[t][i] - expected[t][i]));
        diff_sq += (rows[t][i] - expected[t][i]) * (rows[t][i] - expected[t][i]);
        ++count;
      }
    }
    const double rms = std::sqrt(sum_sq / count);
    const double rms_diff = std::sqrt(diff_sq / count);
    EXPECT_GT(rms, 0.1);  // the logits are not degenerate
    EXPECT_LE(max_diff, type.max_tolerance * rms)
        << architecture_name(arch) << " " << tensor_type_name(type.type) << " path "
        << kernels::kernel_path_name(path) << ": max diff " << max_diff << ", rms " << rms;
    EXPECT_LE(rms_diff, type.rms_tolerance * rms)
        << architecture_name(arch) << " " << tensor_type_name(type.type) << " path "
        << kernels::kernel_path_name(path) << ": rms diff " << rms_diff << ", rms " << rms;
    if (std::getenv("TETHER_PRINT_ERRORS")) {
      std::printf("%s %s %s max %.2e rms-diff %.2e rms %.3f\n", architecture_name(arch).data(),
                  tensor_type_name(type.type).data(), kernels::kernel_path_name(path).data(),
                  max_diff, rms_diff, rms);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    AllArchsAndTypes, ReferenceAgreement,
    ::testing::Combine(::testing::ValuesIn(kArchs), ::testing::ValuesIn(kTypes)),
    [](const auto& info) {
      return std::string(architecture_name(std::get<0>(info.param))) + "_" +
             std::string(tensor_type_name(std::get<1>(info.param).type));
    });

TEST(LlamaModel, RopeScalingVariantsMatchReference) {
  struct Case {
    std::string type;
    Architecture arch;
  };
  for (const Case& c : {Case{"linear", Architecture::kLlama}, Case{"yarn", Architecture::kQwen2},
                        Case{"llama3", Architecture::kLlama}}) {
    auto options = small_options(c.arch, TensorType::kF32);
    options.rope_scaling.type = c.type;
    options.rope_scaling.factor = 4.0f;
    options.rope_scaling.original_context = 64;
    auto file = make_model(options);
    auto model = LlamaModel::load(file);
    if (c.type == "llama3") {
      EXPECT_TRUE(model.config().rope.has_freq_factors);
    } else {
      EXPECT_EQ(model.config().rope.scaling,
                c.type == "yarn" ? RopeScalingType::kYarn : RopeScalingType::kLinear);
    }
    // Positions far enough apart that scaling changes the angles noticeably.
    const auto tokens = prompt_tokens(40, model.config().vocab_size);
    const auto expected = ReferenceModel(*file).forward(tokens);
    ThreadPool pool(1);
    kv::KvBlockStorage kv(model.kv_shape(16, kv::KvType::kF32), 3);
    const auto table = block_table(3, 0);
    auto rows = run(model, kv, tokens, 0, table, pool, kernels::best_kernel_path());
    double max_diff = 0;
    for (size_t t = 0; t < rows.size(); ++t) {
      for (size_t i = 0; i < rows[t].size(); ++i) {
        max_diff = std::max(max_diff, std::abs(rows[t][i] - expected[t][i]));
      }
    }
    EXPECT_LT(max_diff, 2e-3) << c.type;
  }
}

TEST(LlamaModel, RopeScalingChangesLogits) {
  auto plain = small_options(Architecture::kLlama, TensorType::kF32);
  auto scaled = plain;
  scaled.rope_scaling.type = "linear";
  scaled.rope_scaling.factor = 4.0f;
  const auto tokens = prompt_tokens(20, 512);
  auto a = ReferenceModel(*make_model(plain)).forward(tokens);
  auto b = ReferenceModel(*make_model(scaled)).forward(tokens);
  double diff = 0;
  for (size_t i = 0; i < a.back().size(); ++i) diff = std::max(diff, std::abs(a.back()[i] - b.back()[i]));
  EXPECT_GT(diff, 1e-3);
}

// Greedy decoding of several sequences; batched = all sequences in one
// forward per step, else one forward per sequence.
std::vector<std::vector<int>> greedy(LlamaModel& model, int n_threads, KernelPath path,
                                     bool batched, int block_tokens = 16) {
  const int vocab = model.config().vocab_size;
  const std::vector<std::vector<TokenId>> prompts = {
      prompt_tokens(5, vocab, 1), prompt_tokens(1, vocab, 2), prompt_tokens(23, vocab, 3),
      prompt_tokens(11, vocab, 4)};
  constexpr int kSteps = 6;
  const int blocks_per_seq = (40 + block_tokens - 1) / block_tokens;
  kv::KvBlockStorage kv(model.kv_shape(block_tokens), blocks_per_seq * 4);
  std::vector<std::vector<kv::BlockId>> tables;
  for (int s = 0; s < 4; ++s) {
    // Interleave sequences' blocks so tables are not contiguous ranges.
    std::vector<kv::BlockId> table;
    for (int b = 0; b < blocks_per_seq; ++b) table.push_back(kv::BlockId{b * 4 + (3 - s)});
    tables.push_back(table);
  }
  ThreadPool pool(n_threads);
  std::vector<std::vector<int>> generated(4);
  std::vector<std::vector<TokenId>> pending = prompts;
  std::vector<int> pos(4, 0);
  ForwardOutput out;
  for (int step = 0; step < kSteps; ++step) {
    std::vector<SequenceInput> inputs;
    for (int s = 0; s < 4; ++s) inputs.push_back({pending[s], pos[s], tables[s], false});
    std::vector<std::span<const float>> last(4);
    std::vector<std::vector<float>> copies(4);
    if (batched) {
      model.forward(inputs, kv, out, pool, path);
      for (int s = 0; s < 4; ++s) copies[s].assign(out.last(s).begin(), out.last(s).end());
    } else {
      for (int s = 0; s < 4; ++s) {
        model.forward({&inputs[s], 1}, kv, out, pool, path);
        copies[s].assign(out.last(0).begin(), out.last(0).end());
      }
    }
    for (int s = 0; s < 4; ++s) {
      pos[s] += static_cast<int>(pending[s].size());
      const int next = argmax(copies[s]);
      generated[s].push_back(next);
      pending[s] = {next};
    }
  }
  return generated;
}

TEST(LlamaModel, GreedyTokensIndependentOfBatchingThreadsAndPath) {
  for (TensorType type : {TensorType::kQ8_0, TensorType::kF16}) {
    auto model = LlamaModel::load(make_model(small_options(Architecture::kQwen2, type)));
    const auto baseline = greedy(model, 1, KernelPath::kScalar, false);
    EXPECT_EQ(greedy(model, 1, KernelPath::kScalar, true), baseline);
    EXPECT_EQ(greedy(model, 2, KernelPath::kScalar, true), baseline);
    EXPECT_EQ(greedy(model, 2, kernels::best_kernel_path(), true), baseline);
    EXPECT_EQ(greedy(model, 2, kernels::best_kernel_path(), false), baseline);
    EXPECT_EQ(greedy(model, 1, kernels::best_kernel_path(), true, 1), baseline);
  }
}

TEST(LlamaModel, BatchedLogitsMatchReference) {
  auto file = make_model(small_options(Architecture::kQwen3, TensorType::kF32));
  auto model = LlamaModel::load(file);
  const auto a = prompt_tokens(7, 512, 1);
  const auto b = prompt_tokens(3, 512, 2);
  ThreadPool pool(2);
  kv::KvBlockStorage kv(model.kv_shape(4, kv::KvType::kF32), 8);
  const auto table_a = block_table(2, 0);
  const auto table_b = block_table(2, 4);
  // Sequence b already holds 3 positions; a's prefill and b's next token share one step.
  run(model, kv, b, 0, table_b, pool, kernels::best_kernel_path());
  const TokenId next_b[] = {99};
  SequenceInput inputs[] = {{a, 0, table_a, true}, {next_b, 3, table_b, false}};
  ForwardOutput out;
  model.forward(inputs, kv, out, pool);
  ASSERT_EQ(out.n_rows(), 8);
  EXPECT_EQ(out.first_row, (std::vector<int32_t>{0, 7, 8}));

  ReferenceModel reference(*file);
  const auto expected_a = reference.forward(a);
  std::vector<TokenId> b_full = b;
  b_full.push_back(99);
  const auto expected_b = reference.forward(b_full);
  for (int t = 0; t < 7; ++t) {
    for (int i = 0; i < 512; ++i) ASSERT_NEAR(out.row(t)[i], expected_a[t][i], 2e-3) << t;
  }
  for (int i = 0; i < 512; ++i) ASSERT_NEAR(out.last(1)[i], expected_b.back()[i], 2e-3);
}

// Replicas share one copy of the weights and run forwards at the same time,
// each on its own scratch, KV storage and pool.
TEST(LlamaModel, SharedWeightsRunConcurrentlyWithEqualLogits) {
  auto model = LlamaModel::load(make_model(small_options(Architecture::kQwen2, TensorType::kQ8_0)));
  LlamaModel replica = model.share_weights();
  EXPECT_EQ(&replica.weights(), &model.weights());
  const auto tokens = prompt_tokens(37, 512, 3);
  const auto table = block_table(10, 0);
  std::vector<std::vector<float>> from_model, from_replica;
  std::thread other([&] {
    ThreadPool pool(1);
    kv::KvBlockStorage kv(replica.kv_shape(4), 10);
    for (int i = 0; i < 5; ++i) from_replica = run(replica, kv, tokens, 0, table, pool, kernels::best_kernel_path());
  });
  {
    ThreadPool pool(1);
    kv::KvBlockStorage kv(model.kv_shape(4), 10);
    for (int i = 0; i < 5; ++i) from_model = run(model, kv, tokens, 0, table, pool, kernels::best_kernel_path());
  }
  other.join();
  EXPECT_EQ(from_model, from_replica);
}

TEST(LlamaModel, BlockSizesGiveTheSameLogits) {
  auto model = LlamaModel::load(make_model(small_options(Architecture::kLlama, TensorType::kF32)));
  const auto tokens = prompt_tokens(21, 512);
  ThreadPool pool(1);
  std::vector<std::vector<std::vector<float>>> results;
  for (int block_tokens : {1, 5, 16, 32}) {
    const int n_blocks = (21 + block_tokens - 1) / block_tokens;
    kv::KvBlockStorage kv(model.kv_shape(block_tokens, kv::KvType::kF32), n_blocks + 3);
    std::vector<kv::BlockId> table;
    for (int b = n_blocks - 1; b >= 0; --b) table.push_back(kv::BlockId{b + 3});  // reversed order
    auto rows = run(model, kv, std::span(tokens).first(13), 0, table, pool,
                    kernels::best_kernel_path());
    for (int t = 13; t < 21; ++t) {
      rows.push_back(run(model, kv, std::span(tokens).subspan(t, 1), t, table, pool,
                         kernels::best_kernel_path())[0]);
    }
    results.push_back(rows);
  }
  for (size_t r = 1; r < results.size(); ++r) {
    for (size_t t = 0; t < results[0].size(); ++t) {
      for (size_t i = 0; i < results[0][t].size(); ++i) {
        ASSERT_NEAR(results[r][t][i], results[0][t][i], 1e-4) << "variant " << r << " pos " << t;
      }
    }
  }
}

TEST(LlamaModel, F16CacheStaysCloseToF32Cache) {
  auto model = LlamaModel::load(make_model(small_options(Architecture::kLlama, TensorType::kF32)));
  const auto tokens = prompt_tokens(12, 512);
  ThreadPool pool(1);
  kv::KvBlockStorage kv16(model.kv_shape(16, kv::KvType::kF16), 1);
  kv::KvBlockStorage kv32(model.kv_shape(16, kv::KvType::kF32), 1);
  const auto table = block_table(1, 0);
  auto a = run(model, kv16, tokens, 0, table, pool, kernels::best_kernel_path());
  auto b = run(model, kv32, tokens, 0, table, pool, kernels::best_kernel_path());
  for (size_t t = 0; t < a.size(); ++t) {
    for (size_t i = 0; i < a[t].size(); ++i) ASSERT_NEAR(a[t][i], b[t][i], 2e-2);
  }
}

TEST(LlamaModel, Q8_0CacheStaysCloseToF32Cache) {
  auto model = LlamaModel::load(make_model(small_options(Architecture::kLlama, TensorType::kF32)));
  const auto tokens = prompt_tokens(12, 512);
  ThreadPool pool(1);
  kv::KvBlockStorage kv8(model.kv_shape(16, kv::KvType::kQ8_0), 1);
  kv::KvBlockStorage kv32(model.kv_shape(16, kv::KvType::kF32), 1);
  const auto table = block_table(1, 0);
  for (kernels::KernelPath path : {kernels::KernelPath::kScalar, kernels::best_kernel_path()}) {
    auto a = run(model, kv8, tokens, 0, table, pool, path);
    auto b = run(model, kv32, tokens, 0, table, pool, path);
    double worst = 0.0;
    for (size_t t = 0; t < a.size(); ++t) {
      for (size_t i = 0; i < a[t].size(); ++i) worst = std::max(worst, std::fabs(double{a[t][i]} - b[t][i]));
    }
    // 8-bit keys and values: looser than F16, far below the logits' spread.
    EXPECT_LT(worst, 0.1);
    EXPECT_GT(worst, 0.0);  // it really is another cache type
  }
}

TEST(LlamaModel, InvalidInputsAreRejectedBeforeCompute) {
  auto model = LlamaModel::load(make_model(small_options(Architecture::kLlama, TensorType::kQ8_0)));
  ThreadPool pool(1);
  kv::KvBlockStorage kv(model.kv_shape(4), 2);
  ForwardOutput out;
  const TokenId ok[] = {1, 2, 3};
  const TokenId bad[] = {1, 512};
  const auto table = block_table(1, 0);
  const auto two = block_table(2, 0);
  const kv::BlockId outside[] = {kv::BlockId{0}, kv::BlockId{7}};
  auto expect_error = [&](SequenceInput input, const std::string& needle) {
    try {
      model.forward({&input, 1}, kv, out, pool);
      ADD_FAILURE() << "no error for " << needle;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  expect_error({bad, 0, two, false}, "token id 512");
  expect_error({ok, 2, table, false}, "block table of 1 blocks cannot hold 5 positions");
  expect_error({ok, 2, outside, false}, "block 7");
  expect_error({{}, 0, table, false}, "no tokens");
  kv::KvBlockStorage wrong({1, 2, 64, 16, kv::KvType::kF16}, 1);
  SequenceInput input{ok, 0, table, false};
  EXPECT_THROW(model.forward({&input, 1}, wrong, out, pool), Error);
}

}  // namespace
}  // namespace tether::model

namespace tether::model {
namespace {

// Qwen3 models have a head dim independent of hidden / heads (key_length):
// rebuild a tiny qwen3 file with head dim 128 (q_dim 512 != hidden 256) and
// check the engine against the reference.
TEST(LlamaModel, HeadDimFromKeyLengthMatchesReference) {
  auto source = make_model(small_options(Architecture::kQwen3, TensorType::kF32));
  gguf::GgufWriter writer;
  for (const auto& entry : source->metadata()) {
    if (entry.key != gguf::kAlignmentKey) writer.set(entry.key, entry.value);
  }
  writer.set("qwen3.attention.key_length", gguf::Value::of_u32(128));
  writer.set("qwen3.attention.value_length", gguf::Value::of_u32(128));
  writer.set("qwen3.rope.dimension_count", gguf::Value::of_u32(128));
  uint32_t state = 12345;
  auto random_f32 = [&state](size_t n, float mean, float scale) {
    std::vector<uint8_t> bytes(n * sizeof(float));
    for (size_t i = 0; i < n; ++i) {
      state = state * 1664525u + 1013904223u;
      const float value = mean + scale * (static_cast<float>(state >> 8) / (1 << 24) - 0.5f);
      std::memcpy(bytes.data() + i * sizeof(float), &value, sizeof(float));
    }
    return bytes;
  };
  for (const auto& tensor : source->tensors()) {
    std::vector<uint64_t> dims = tensor.dims;
    const std::string& name = tensor.name;
    if (name.ends_with("attn_q.weight")) dims = {256, 512};
    if (name.ends_with("attn_k.weight") || name.ends_with("attn_v.weight")) dims = {256, 256};
    if (name.ends_with("attn_output.weight")) dims = {512, 256};
    if (name.ends_with("attn_q_norm.weight") || name.ends_with("attn_k_norm.weight")) dims = {128};
    if (dims == tensor.dims) {
      auto bytes = source->tensor_data(tensor);
      writer.add_tensor(name, tensor.type, dims, std::vector<uint8_t>(bytes.begin(), bytes.end()));
    } else {
      const size_t n = dims.size() == 1 ? dims[0] : dims[0] * dims[1];
      const bool is_norm = dims.size() == 1;
      writer.add_tensor(name, TensorType::kF32, dims,
                        random_f32(n, is_norm ? 1.0f : 0.0f, is_norm ? 0.1f : 0.2f));
    }
  }
  auto file = std::make_shared<const gguf::GgufFile>(
      gguf::GgufFile::from_bytes(writer.write_to_memory(), "qwen3-hd128"));
  auto model = LlamaModel::load(file);
  EXPECT_EQ(model.config().head_dim, 128);
  EXPECT_EQ(model.config().q_dim(), 512);
  const auto tokens = prompt_tokens(10, 512);
  const auto expected = ReferenceModel(*file).forward(tokens);
  ThreadPool pool(2);
  kv::KvBlockStorage kv(model.kv_shape(4, kv::KvType::kF32), 3);
  const auto table = block_table(3, 0);
  const auto rows = run(model, kv, tokens, 0, table, pool, kernels::best_kernel_path());
  for (size_t t = 0; t < rows.size(); ++t) {
    for (size_t i = 0; i < rows[t].size(); ++i) ASSERT_NEAR(rows[t][i], expected[t][i], 1e-4);
  }
}

}  // namespace
}  // namespace tether::model
