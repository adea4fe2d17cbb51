// Conformance: every family's test vectors (../shared/testdata/vocab), which
// hold the ids the reference tokenizers produce, must match exactly.
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <gtest/gtest.h>

#include "engine/gguf/gguf_file.h"
#include "engine/tokenizer/tokenizer.h"
#include "test_paths.h"

namespace tether::tokenizer {
namespace {

constexpr std::string_view kSeparator = "\n__ggml_vocab_test__\n";

std::string read_all(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// Texts lie between separators (README: without the newline that ends each
// separator line and the one before the next separator).
std::vector<std::string> read_inputs(const std::filesystem::path& path) {
  const std::string all = read_all(path);
  std::vector<std::string> texts;
  size_t pos = 0;
  while (pos < all.size()) {
    const size_t end = all.find(kSeparator, pos);
    if (end == std::string::npos) break;
    texts.push_back(all.substr(pos, end - pos));
    pos = end + kSeparator.size();
  }
  return texts;
}

std::vector<std::vector<TokenId>> read_outputs(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<std::vector<TokenId>> lines;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::vector<TokenId> ids;
    TokenId id = 0;
    while (fields >> id) ids.push_back(id);
    lines.push_back(std::move(ids));
  }
  return lines;
}

class ConformanceTest : public ::testing::TestWithParam<std::string> {};

TEST_P(ConformanceTest, MatchesReferenceIds) {
  TETHER_SKIP_WITHOUT_SHARED_TESTDATA();
  const auto dir = testing::shared_testdata_dir() / "vocab";
  const auto base = dir / fmt::format("ggml-vocab-{}.gguf", GetParam());
  ASSERT_TRUE(std::filesystem::exists(base)) << base;
  const auto file = gguf::GgufFile::open(base);
  const Tokenizer tokenizer = Tokenizer::from_gguf(file);

  const auto inputs = read_inputs(base.string() + ".inp");
  const auto outputs = read_outputs(base.string() + ".out");
  ASSERT_EQ(inputs.size(), outputs.size());
  ASSERT_GT(inputs.size(), 30u);
  size_t failures = 0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const auto ids = tokenizer.encode(inputs[i], {.add_special = false, .parse_special = false});
    if (ids != outputs[i]) ++failures;
    EXPECT_EQ(ids, outputs[i]) << "vector " << i << ": '" << inputs[i] << "'\n got:      "
                               << fmt::format("{}", fmt::join(ids, " "))
                               << "\n expected: " << fmt::format("{}", fmt::join(outputs[i], " "));
  }
  EXPECT_EQ(failures, 0u);
}

INSTANTIATE_TEST_SUITE_P(AllFamilies, ConformanceTest,
                         ::testing::Values("llama-spm", "phi-3", "gpt-2", "deepseek-llm",
                                           "deepseek-coder", "falcon", "starcoder", "refact",
                                           "mpt"),
                         [](const auto& info) {
                           std::string name = info.param;
                           for (char& c : name) {
                             if (c == '-') c = '_';
                           }
                           return name;
                         });

}  // namespace
}  // namespace tether::tokenizer
