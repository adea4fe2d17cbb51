#include "engine/model/model_maker.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "common/error.h"
#include "engine/gguf/gguf_file.h"
#include "engine/kernels/quantize.h"
#include "engine/tokenizer/builtin_vocab.h"
#include "engine/tokenizer/tokenizer.h"
#include "test_paths.h"

namespace tether::model {
namespace {

using gguf::GgufFile;

MakeModelOptions tiny_options(TensorType type = TensorType::kQ8_0, uint64_t seed = 1) {
  MakeModelOptions options;
  options.shape = model_shape_preset("tiny");
  options.shape.vocab_size = 1024;  // keeps each test model under a second
  options.type = type;
  options.seed = seed;
  return options;
}

GgufFile make(const MakeModelOptions& options) {
  return GgufFile::from_bytes(ModelMaker(options).write_to_memory(), "made");
}

std::vector<std::string> expected_tensor_names(uint32_t layers, bool tied) {
  std::vector<std::string> names = {"token_embd.weight"};
  for (uint32_t layer = 0; layer < layers; ++layer) {
    for (const char* part : {"attn_norm", "attn_q", "attn_k", "attn_v", "attn_output", "ffn_norm",
                             "ffn_gate", "ffn_up", "ffn_down"}) {
      names.push_back("blk." + std::to_string(layer) + "." + part + ".weight");
    }
  }
  names.push_back("output_norm.weight");
  if (!tied) names.push_back("output.weight");
  return names;
}

std::vector<float> dequantize(const GgufFile& file, const gguf::TensorInfo& tensor) {
  auto bytes = file.tensor_data(tensor);
  const uint64_t row_length = tensor.dims[0];
  const size_t row_bytes = kernels::row_bytes(tensor.type, static_cast<int64_t>(row_length));
  std::vector<float> values(tensor.n_elements);
  for (uint64_t row = 0; row < tensor.n_elements / row_length; ++row) {
    kernels::dequantize_row(tensor.type, bytes.subspan(row * row_bytes, row_bytes),
                            std::span<float>(values).subspan(row * row_length, row_length));
  }
  return values;
}

struct Moments {
  double mean = 0, std_dev = 0;
};

Moments moments_of(const std::vector<float>& values) {
  double sum = 0, sum_sq = 0;
  for (float v : values) sum += v;
  Moments m;
  m.mean = sum / values.size();
  for (float v : values) sum_sq += (v - m.mean) * (v - m.mean);
  m.std_dev = std::sqrt(sum_sq / values.size());
  return m;
}

class ModelMakerTypeTest : public ::testing::TestWithParam<TensorType> {};

TEST_P(ModelMakerTypeTest, TinyModelReadsBackWithStandardKeysAndTensors) {
  const TensorType type = GetParam();
  auto options = tiny_options(type);
  ModelMaker maker(options);
  auto file = GgufFile::from_bytes(maker.write_to_memory(), "made");
  const ModelShape& shape = options.shape;

  EXPECT_EQ(file.version(), 3u);
  EXPECT_EQ(file.get_string("general.architecture"), "llama");
  EXPECT_FALSE(file.get_string("general.name").empty());
  EXPECT_EQ(file.get_uint("general.file_type"), llama_file_type_of(type));
  EXPECT_EQ(file.get_uint("general.quantization_version"), 2u);
  EXPECT_EQ(file.get_uint("llama.context_length"), shape.context);
  EXPECT_EQ(file.get_uint("llama.embedding_length"), shape.hidden);
  EXPECT_EQ(file.get_uint("llama.block_count"), shape.layers);
  EXPECT_EQ(file.get_uint("llama.feed_forward_length"), shape.ffn);
  EXPECT_EQ(file.get_uint("llama.attention.head_count"), shape.heads);
  EXPECT_EQ(file.get_uint("llama.attention.head_count_kv"), shape.kv_heads);
  EXPECT_FLOAT_EQ(static_cast<float>(file.get_float("llama.attention.layer_norm_rms_epsilon")),
                  shape.rms_eps);
  EXPECT_FLOAT_EQ(static_cast<float>(file.get_float("llama.rope.freq_base")), shape.rope_base);
  EXPECT_EQ(file.get_uint("llama.rope.dimension_count"), shape.head_dim());
  EXPECT_EQ(file.get_uint("llama.vocab_size"), 1024u);
  EXPECT_EQ(file.find("llama.vocab_size")->type, gguf::ValueType::kUint32);

  EXPECT_EQ(file.get_string("tokenizer.ggml.model"), "gpt2");
  EXPECT_EQ(file.get_string("tokenizer.ggml.pre"), "qwen2");
  EXPECT_EQ(file.get_array("tokenizer.ggml.tokens", gguf::ValueType::kString).items.size(), 1024u);
  EXPECT_EQ(file.get_array("tokenizer.ggml.token_type", gguf::ValueType::kInt32).items.size(),
            1024u);
  EXPECT_FALSE(file.get_array("tokenizer.ggml.merges", gguf::ValueType::kString).items.empty());
  EXPECT_EQ(file.find_bool("tokenizer.ggml.add_bos_token"), false);
  EXPECT_EQ(file.get_string("tokenizer.chat_template"), tokenizer::chatml_chat_template());

  std::vector<std::string> names;
  for (const auto& tensor : file.tensors()) names.push_back(tensor.name);
  ASSERT_EQ(names, expected_tensor_names(shape.layers, false));

  const uint64_t hidden = shape.hidden, kv = shape.kv_dim(), ffn = shape.ffn;
  std::map<std::string, std::vector<uint64_t>> dims_by_part = {
      {"attn_norm", {hidden}},       {"attn_q", {hidden, hidden}},
      {"attn_k", {hidden, kv}},      {"attn_v", {hidden, kv}},
      {"attn_output", {hidden, hidden}}, {"ffn_norm", {hidden}},
      {"ffn_gate", {hidden, ffn}},   {"ffn_up", {hidden, ffn}},
      {"ffn_down", {ffn, hidden}}};
  for (const auto& tensor : file.tensors()) {
    std::vector<uint64_t> expected_dims;
    if (tensor.name == "token_embd.weight" || tensor.name == "output.weight") {
      expected_dims = {hidden, 1024};
    } else if (tensor.name == "output_norm.weight") {
      expected_dims = {hidden};
    } else {
      auto part = tensor.name.substr(tensor.name.find('.', 4) + 1);
      part = part.substr(0, part.find(".weight"));
      expected_dims = dims_by_part.at(part);
    }
    EXPECT_EQ(tensor.dims, expected_dims) << tensor.name;
    // Norm vectors stay F32 as llama.cpp keeps them; every matrix has the type.
    EXPECT_EQ(tensor.type, tensor.dims.size() == 1 ? TensorType::kF32 : type) << tensor.name;
  }
  EXPECT_TRUE(maker.fallbacks().empty());
  EXPECT_EQ(maker.fallback_summary(), "");
}

INSTANTIATE_TEST_SUITE_P(AllTypes, ModelMakerTypeTest,
                         ::testing::Values(TensorType::kF32, TensorType::kF16, TensorType::kBF16,
                                           TensorType::kQ8_0, TensorType::kQ4_0, TensorType::kQ4_K,
                                           TensorType::kQ6_K),
                         [](const auto& info) { return std::string(tensor_type_name(info.param)); });

TEST(ModelMakerTest, FileTypesMatchLlamaFtypeNumbers) {
  EXPECT_EQ(llama_file_type_of(TensorType::kF32), 0u);
  EXPECT_EQ(llama_file_type_of(TensorType::kF16), 1u);
  EXPECT_EQ(llama_file_type_of(TensorType::kQ4_0), 2u);
  EXPECT_EQ(llama_file_type_of(TensorType::kQ8_0), 7u);
  EXPECT_EQ(llama_file_type_of(TensorType::kQ4_K), 14u);
  EXPECT_EQ(llama_file_type_of(TensorType::kQ6_K), 18u);
  EXPECT_EQ(llama_file_type_of(TensorType::kBF16), 32u);
  EXPECT_THROW(llama_file_type_of(TensorType::kQ5_0), Error);
  auto options = tiny_options(TensorType::kQ2_K);
  EXPECT_THROW(ModelMaker{options}, Error);
}

// Hidden 896 as in the 0.5b preset, but one layer and a small vocabulary.
MakeModelOptions wide_options(TensorType type) {
  MakeModelOptions options = tiny_options(type);
  options.shape.hidden = 896;
  options.shape.heads = 14;
  options.shape.kv_heads = 2;
  options.shape.ffn = 1024;  // ffn_down's rows (1024) do fit K-quant blocks
  options.shape.layers = 1;
  options.shape.vocab_size = 300;
  return options;
}

TEST(ModelMakerTest, KQuantsFallBackWhereRowsAreNotMultiplesOf256) {
  for (auto [requested, fallback] : {std::pair{TensorType::kQ4_K, TensorType::kQ4_0},
                                     std::pair{TensorType::kQ6_K, TensorType::kQ8_0}}) {
    ModelMaker maker(wide_options(requested));
    auto file = GgufFile::from_bytes(maker.write_to_memory(), "wide");
    size_t matrices = 0;
    for (const auto& tensor : file.tensors()) {
      if (tensor.dims.size() == 1) {
        EXPECT_EQ(tensor.type, TensorType::kF32);
        continue;
      }
      ++matrices;
      TensorType expected = tensor.dims[0] % 256 == 0 ? requested : fallback;
      EXPECT_EQ(tensor.type, expected) << tensor.name;
    }
    // All matrices but ffn_down (rows of 1024) have rows of 896.
    ASSERT_EQ(maker.fallbacks().size(), matrices - 1);
    for (const auto& item : maker.fallbacks()) {
      EXPECT_EQ(item.requested, requested);
      EXPECT_EQ(item.used, fallback);
      EXPECT_EQ(item.row_length, 896u);
      EXPECT_NE(item.tensor_name, "blk.0.ffn_down.weight");
    }
    EXPECT_EQ(file.get_uint("general.file_type"), llama_file_type_of(requested));
    auto summary = maker.fallback_summary();
    EXPECT_NE(summary.find("rows of 896 as " + std::string(tensor_type_name(fallback))),
              std::string::npos)
        << summary;
  }
}

TEST(ModelMakerTest, RowsThatFitNoBlockBecomeF16) {
  MakeModelOptions options = tiny_options(TensorType::kQ8_0);
  options.shape.hidden = 80;  // not a multiple of 32
  options.shape.heads = 4;
  options.shape.kv_heads = 4;
  options.shape.ffn = 256;
  options.shape.layers = 1;
  options.shape.vocab_size = 300;
  ModelMaker maker(options);
  auto file = GgufFile::from_bytes(maker.write_to_memory(), "narrow");
  EXPECT_EQ(file.find_tensor("blk.0.attn_q.weight")->type, TensorType::kF16);
  EXPECT_EQ(file.find_tensor("blk.0.ffn_down.weight")->type, TensorType::kQ8_0);  // rows of 256
  EXPECT_FALSE(maker.fallbacks().empty());
}

TEST(ModelMakerTest, SameSeedGivesIdenticalBytesWhateverTheThreadCount) {
  auto options = tiny_options(TensorType::kQ4_K, 5);
  options.shape.layers = 1;
  options.threads = 1;
  auto single = ModelMaker(options).write_to_memory();
  options.threads = 4;
  auto multi = ModelMaker(options).write_to_memory();
  EXPECT_EQ(single, multi);
  EXPECT_EQ(ModelMaker(options).write_to_memory(), multi);
}

TEST(ModelMakerTest, DifferentSeedsGiveDifferentWeights) {
  auto first = make(tiny_options(TensorType::kQ8_0, 1));
  auto second = make(tiny_options(TensorType::kQ8_0, 2));
  ASSERT_EQ(first.tensors().size(), second.tensors().size());
  for (size_t i = 0; i < first.tensors().size(); ++i) {
    const auto& a = first.tensors()[i];
    const auto& b = second.tensors()[i];
    ASSERT_EQ(a.name, b.name);
    ASSERT_EQ(a.n_bytes, b.n_bytes);
    auto bytes_a = first.tensor_data(a);
    auto bytes_b = second.tensor_data(b);
    EXPECT_FALSE(std::equal(bytes_a.begin(), bytes_a.end(), bytes_b.begin())) << a.name;
  }
  // Same vocabulary either way: only weights depend on the seed.
  EXPECT_EQ(*first.find("tokenizer.ggml.merges"), *second.find("tokenizer.ggml.merges"));
}

// The stored weights are the planned Gaussians (not zeros, not constants),
// before and after quantization.
TEST(ModelMakerTest, WeightsHaveThePlannedMeanAndStd) {
  for (TensorType type : {TensorType::kF32, TensorType::kQ8_0, TensorType::kQ4_K}) {
    auto options = tiny_options(type);
    ModelMaker maker(options);
    auto file = GgufFile::from_bytes(maker.write_to_memory(), "stats");
    // Coarser quantizers add noise to the std; the mean stays centred. Bounds
    // are four standard errors of each estimate for the tensor's sample size
    // (norm vectors hold only 256 values).
    const double quant_noise = type == TensorType::kQ4_K ? 0.06 : 0.005;
    for (const auto& planned : maker.tensors()) {
      const auto* tensor = file.find_tensor(planned.name);
      ASSERT_NE(tensor, nullptr) << planned.name;
      auto stats = moments_of(dequantize(file, *tensor));
      const double n = static_cast<double>(planned.n_elements);
      EXPECT_NEAR(stats.mean, planned.mean, 4.0 * planned.std_dev / std::sqrt(n)) << planned.name;
      EXPECT_NEAR(stats.std_dev / planned.std_dev, 1.0, 4.0 / std::sqrt(2.0 * n) + quant_noise)
          << planned.name;
    }
  }
  // The scales themselves: 1/sqrt(fan_in), residual writers scaled down, norms near 1.
  ModelMaker maker(tiny_options());
  std::map<std::string, PlannedTensor> by_name;
  for (const auto& tensor : maker.tensors()) by_name[tensor.name] = tensor;
  EXPECT_FLOAT_EQ(by_name["blk.0.attn_q.weight"].std_dev, 1.0f / 16.0f);
  EXPECT_FLOAT_EQ(by_name["blk.0.attn_output.weight"].std_dev, 1.0f / 16.0f / 2.0f);
  EXPECT_FLOAT_EQ(by_name["blk.1.attn_norm.weight"].mean, 1.0f);
  EXPECT_LT(by_name["blk.1.attn_norm.weight"].std_dev, 0.1f);
}

TEST(ModelMakerTest, TiedOutputHasNoOutputTensorAndCountsMatchTheFile) {
  auto options = tiny_options(TensorType::kF16);
  options.shape.tied_output = true;
  ModelMaker maker(options);
  auto file = GgufFile::from_bytes(maker.write_to_memory(), "tied");
  EXPECT_EQ(file.find_tensor("output.weight"), nullptr);
  std::vector<std::string> names;
  uint64_t params = 0, bytes = 0;
  for (const auto& tensor : file.tensors()) {
    names.push_back(tensor.name);
    params += tensor.n_elements;
    bytes += tensor.n_bytes;
  }
  EXPECT_EQ(names, expected_tensor_names(options.shape.layers, true));
  EXPECT_EQ(maker.n_params(), params);
  EXPECT_EQ(maker.n_tensor_bytes(), bytes);
}

TEST(ModelMakerTest, WritesAFileThatOpensFromDisk) {
  auto dir = testing::make_temp_dir("model-maker");
  auto path = dir / "tiny.gguf";
  ModelMaker(tiny_options()).write_file(path);
  auto file = GgufFile::open(path);
  EXPECT_EQ(file.get_string("general.architecture"), "llama");
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir), {}), 1);  // no temp left
  std::filesystem::remove_all(dir);
}

TEST(ModelMakerTest, CopiesEveryTokenizerKeyFromAVocabFile) {
  TETHER_SKIP_WITHOUT_SHARED_TESTDATA();
  auto vocab_path = testing::shared_testdata_dir() / "vocab" / "ggml-vocab-gpt-2.gguf";
  auto source = GgufFile::open(vocab_path);
  auto options = tiny_options();
  options.vocab_path = vocab_path;
  options.shape.layers = 1;
  ModelMaker maker(options);
  auto file = GgufFile::from_bytes(maker.write_to_memory(), "with-vocab");

  size_t copied = 0;
  for (const auto& entry : source.metadata()) {
    if (!entry.key.starts_with("tokenizer.")) continue;
    const auto* value = file.find(entry.key);
    ASSERT_NE(value, nullptr) << entry.key;
    EXPECT_EQ(*value, entry.value) << entry.key;
    ++copied;
  }
  EXPECT_GT(copied, 3u);
  size_t n_tokens = source.get_array("tokenizer.ggml.tokens", gguf::ValueType::kString).items.size();
  EXPECT_EQ(maker.vocab_size(), n_tokens);
  EXPECT_EQ(maker.options().shape.vocab_size, n_tokens);
  EXPECT_EQ(file.get_uint("llama.vocab_size"), n_tokens);
  EXPECT_EQ(file.find_tensor("token_embd.weight")->dims[1], n_tokens);
  EXPECT_EQ(file.find_tensor("output.weight")->dims[1], n_tokens);
  // GPT-2 has no ChatML tokens and no template of its own: none is invented.
  EXPECT_EQ(file.find("tokenizer.chat_template") != nullptr,
            source.find("tokenizer.chat_template") != nullptr);
  // Only the source's tokenizer keys, not its general.* ones, are taken.
  EXPECT_EQ(file.get_string("general.architecture"), "llama");
}

TEST(ModelMakerTest, MissingOrVocabLessFilesAreErrors) {
  auto options = tiny_options();
  options.vocab_path = "/nonexistent/vocab.gguf";
  EXPECT_THROW(ModelMaker{options}, Error);

  // A model file has tokenizer keys; a bare GGUF without them does not.
  auto dir = testing::make_temp_dir("model-maker-bad-vocab");
  gguf::GgufWriter writer;
  writer.set("general.architecture", gguf::Value::of_string("llama"));
  writer.write_file(dir / "bare.gguf");
  options.vocab_path = dir / "bare.gguf";
  EXPECT_THROW(ModelMaker{options}, Error);
  std::filesystem::remove_all(dir);
}

// The built-in vocabulary as written into a model works with the project's
// tokenizer: text round-trips, ChatML markers are single control tokens.
TEST(ModelMakerTest, BuiltinVocabTokenizesAndRoundTrips) {
  auto file = make(tiny_options());
  auto tok = tokenizer::Tokenizer::from_gguf(file);
  EXPECT_EQ(tok.n_vocab(), 1024);
  for (std::string text : {std::string("Hello world! The bookshop opens at 9:30, and reading is free."),
                           std::string("def main():\n    return 42\n"),
                           std::string("Très bien, merci. 你好！ 🙂"),
                           std::string("  spaces   and\n\n\nnewlines\t\ttabs ")}) {
    auto ids = tok.encode(text, {.add_special = true, .parse_special = false});
    EXPECT_LT(ids.size(), text.size() + 1) << text;
    EXPECT_EQ(tok.decode(ids), text);
  }
  // The tokenizer applies the merges as ranked: same ids as the textbook
  // algorithm (lowest-rank pair first) over the qwen2 pieces.
  const auto& vocab = tok.vocab();
  std::map<std::pair<std::string, std::string>, size_t> rank;
  for (size_t i = 0; i < vocab.merges().size(); ++i) rank.emplace(vocab.merges()[i], i);
  std::string sample = "The harbor town wakes up slowly; bakers pull 12 loaves at 05:30.\n";
  std::vector<tokenizer::TokenId> reference;
  for (const auto& piece : tokenizer::pre_tokenize_qwen2(sample)) {
    std::vector<std::string> symbols;
    for (unsigned char byte : piece) symbols.push_back(tokenizer::byte_to_unicode(byte));
    while (symbols.size() > 1) {
      size_t best = SIZE_MAX, best_at = 0;
      for (size_t i = 0; i + 1 < symbols.size(); ++i) {
        auto it = rank.find({symbols[i], symbols[i + 1]});
        if (it != rank.end() && it->second < best) best = it->second, best_at = i;
      }
      if (best == SIZE_MAX) break;
      symbols[best_at] += symbols[best_at + 1];
      symbols.erase(symbols.begin() + static_cast<ptrdiff_t>(best_at) + 1);
    }
    for (const auto& symbol : symbols) reference.push_back(vocab.find(symbol));
  }
  EXPECT_EQ(tok.encode(sample, {.add_special = false}), reference);
  // Merges are used: a common word is one token, digits are split singly (qwen2).
  EXPECT_EQ(tok.encode(" the", {.add_special = false}).size(), 1u);
  EXPECT_EQ(tok.encode("2024", {.add_special = false}).size(), 4u);
  // No BOS is added (ChatML models do not), and ChatML markers parse as specials.
  auto chat = tok.encode("<|im_start|>user\nHi<|im_end|>\n",
                         {.add_special = true, .parse_special = true});
  ASSERT_GE(chat.size(), 4u);
  EXPECT_EQ(tok.vocab().text(chat.front()), "<|im_start|>");
  EXPECT_TRUE(tok.is_eog(tok.vocab().find("<|im_end|>")));
  EXPECT_EQ(tok.eos_id(), tok.vocab().find("<|im_end|>"));
}

TEST(ModelMaker, ArchitecturesWritePrefixedKeysAndTheirExtraTensors) {
  for (Architecture arch : {Architecture::kQwen2, Architecture::kQwen3}) {
    auto options = tiny_options(TensorType::kQ8_0);
    options.arch = arch;
    const GgufFile file = make(options);
    const std::string name(architecture_name(arch));
    EXPECT_EQ(file.get_string("general.architecture"), name);
    EXPECT_EQ(file.get_uint(name + ".embedding_length"), 256u);
    EXPECT_EQ(file.get_uint(name + ".attention.head_count_kv"), 2u);
    EXPECT_EQ(file.find("llama.embedding_length"), nullptr);
    const auto* bias = file.find_tensor("blk.1.attn_k.bias");
    const auto* norm = file.find_tensor("blk.1.attn_q_norm.weight");
    if (arch == Architecture::kQwen2) {
      ASSERT_NE(bias, nullptr);
      EXPECT_EQ(bias->type, TensorType::kF32);
      EXPECT_EQ(bias->dims, (std::vector<uint64_t>{128}));
      EXPECT_EQ(norm, nullptr);
    } else {
      ASSERT_NE(norm, nullptr);
      EXPECT_EQ(norm->type, TensorType::kF32);
      EXPECT_EQ(norm->dims, (std::vector<uint64_t>{64}));
      EXPECT_EQ(bias, nullptr);
    }
  }
}

TEST(ModelMaker, RopeScalingMetadataAndLlama3Factors) {
  auto options = tiny_options(TensorType::kF32);
  options.rope_scaling.type = "yarn";
  options.rope_scaling.factor = 4.0f;
  options.rope_scaling.original_context = 512;
  const GgufFile yarn = make(options);
  EXPECT_EQ(yarn.get_string("llama.rope.scaling.type"), "yarn");
  EXPECT_FLOAT_EQ(yarn.get_float("llama.rope.scaling.factor"), 4.0);
  EXPECT_EQ(yarn.get_uint("llama.rope.scaling.original_context_length"), 512u);

  options.rope_scaling.type = "llama3";
  options.rope_scaling.factor = 8.0f;
  options.rope_scaling.original_context = 64;
  const GgufFile llama3 = make(options);
  const auto* freqs = llama3.find_tensor("rope_freqs.weight");
  ASSERT_NE(freqs, nullptr);
  ASSERT_EQ(freqs->dims, (std::vector<uint64_t>{32}));
  std::vector<float> factors(32);
  kernels::dequantize_row(TensorType::kF32, llama3.tensor_data(*freqs), factors);
  EXPECT_FLOAT_EQ(factors.front(), 1.0f);  // highest frequency: unscaled
  EXPECT_FLOAT_EQ(factors.back(), 8.0f);   // lowest frequency: divided by the factor
  EXPECT_TRUE(std::is_sorted(factors.begin(), factors.end()));

  options.rope_scaling.type = "ntk";
  EXPECT_THROW(ModelMaker{options}, Error);
  options.rope_scaling.type = "linear";
  options.rope_scaling.factor = 0.5f;
  EXPECT_THROW(ModelMaker{options}, Error);
}

}  // namespace
}  // namespace tether::model
