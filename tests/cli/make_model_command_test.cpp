#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <sys/wait.h>

#include "engine/gguf/gguf_file.h"
#include "test_paths.h"

namespace tether {
namespace {

struct RunResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

RunResult run_tether(const std::string& args, const std::filesystem::path& dir) {
  auto log = dir / "output.txt";
  std::string command = "'" + testing::tether_binary().string() + "' " + args + " > '" +
                        log.string() + "' 2>&1";
  int status = std::system(command.c_str());
  RunResult result;
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream in(log);
  std::stringstream text;
  text << in.rdbuf();
  result.output = text.str();
  return result;
}

class MakeModelCommandTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testing::make_temp_dir("make-model-cli"); }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string out(const std::string& name) { return "'" + (dir_ / name).string() + "'"; }
  std::filesystem::path dir_;
};

TEST_F(MakeModelCommandTest, WritesTheModelAndPrintsASummary) {
  auto result = run_tether("make-model --preset tiny --type q4_0 --seed 3 --layers 1 "
                           "--vocab-size 600 -o " + out("m.gguf"),
                           dir_);
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("params"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("q4_0"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("learned tokens"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find(" s\n"), std::string::npos) << result.output;
  auto file = gguf::GgufFile::open(dir_ / "m.gguf");
  EXPECT_EQ(file.get_uint("llama.block_count"), 1u);
  EXPECT_EQ(file.get_uint("llama.vocab_size"), 600u);
  EXPECT_EQ(file.get_uint("general.file_type"), 2u);
  EXPECT_EQ(file.find_tensor("blk.0.attn_q.weight")->type, TensorType::kQ4_0);
  EXPECT_NE(file.find_tensor("output.weight"), nullptr);
}

TEST_F(MakeModelCommandTest, ShapeFlagsOverrideThePresetAndFallbacksAreReported) {
  auto result = run_tether("make-model --type q6_k --hidden 320 --heads 5 --kv-heads 1 --ffn 512 "
                           "--layers 1 --context 512 --rope-base 500000 --tied-output "
                           "--vocab-size 400 -o " + out("c.gguf"),
                           dir_);
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("as q8_0"), std::string::npos) << result.output;
  auto file = gguf::GgufFile::open(dir_ / "c.gguf");
  EXPECT_EQ(file.get_uint("llama.embedding_length"), 320u);
  EXPECT_EQ(file.get_uint("llama.attention.head_count"), 5u);
  EXPECT_EQ(file.get_uint("llama.attention.head_count_kv"), 1u);
  EXPECT_EQ(file.get_uint("llama.context_length"), 512u);
  EXPECT_DOUBLE_EQ(file.get_float("llama.rope.freq_base"), 500000.0);
  EXPECT_EQ(file.find_tensor("output.weight"), nullptr);
  EXPECT_EQ(file.find_tensor("blk.0.attn_q.weight")->type, TensorType::kQ8_0);
  EXPECT_EQ(file.find_tensor("blk.0.ffn_down.weight")->type, TensorType::kQ6_K);  // rows of 512
}

TEST_F(MakeModelCommandTest, SameArgumentsGiveTheSameFile) {
  std::string args = "make-model --layers 1 --vocab-size 300 --seed 9 -o ";
  ASSERT_EQ(run_tether(args + out("a.gguf"), dir_).exit_code, 0);
  ASSERT_EQ(run_tether(args + out("b.gguf") + " --threads 1", dir_).exit_code, 0);
  auto read = [](const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  EXPECT_EQ(read(dir_ / "a.gguf"), read(dir_ / "b.gguf"));
}

TEST_F(MakeModelCommandTest, BadFlagsAndImpossibleShapesFailClearly) {
  struct Case {
    std::string args;
    std::string message;
  };
  std::vector<Case> cases = {
      {"--heads 3", "3 heads do not divide hidden size 256"},
      {"--kv-heads 3", "3 KV heads do not divide 4 query heads"},
      {"--layers 0", "layer count must be positive"},
      {"--type q5_0", "cannot write tensors of type q5_0"},
      {"--type nonsense", "unknown tensor type 'nonsense'"},
      {"--preset 70b", "unknown model preset '70b'"},
      {"--vocab-size 10", "too small"},
      {"--layers -1", "--layers"},
      {"--vocab /nonexistent/v.gguf", "/nonexistent/v.gguf"},
      {"--tied-output --untied-output", "excludes"},
  };
  for (const auto& test_case : cases) {
    auto result = run_tether("make-model " + test_case.args + " -o " + out("bad.gguf"), dir_);
    EXPECT_NE(result.exit_code, 0) << test_case.args;
    EXPECT_NE(result.output.find(test_case.message), std::string::npos)
        << test_case.args << " printed: " << result.output;
    EXPECT_FALSE(std::filesystem::exists(dir_ / "bad.gguf")) << test_case.args;
  }
  auto no_output = run_tether("make-model", dir_);
  EXPECT_NE(no_output.exit_code, 0);
  EXPECT_NE(no_output.output.find("--output is required"), std::string::npos) << no_output.output;

  auto bad_dir = run_tether("make-model --layers 1 -o '" + (dir_ / "no" / "dir" / "m.gguf").string() + "'",
                            dir_);
  EXPECT_NE(bad_dir.exit_code, 0);
  EXPECT_NE(bad_dir.output.find("cannot create"), std::string::npos) << bad_dir.output;
}

TEST_F(MakeModelCommandTest, VocabFileProvidesTheTokenizer) {
  TETHER_SKIP_WITHOUT_SHARED_TESTDATA();
  auto vocab = testing::shared_testdata_dir() / "vocab" / "ggml-vocab-gpt-2.gguf";
  auto result = run_tether("make-model --layers 1 --vocab '" + vocab.string() + "' -o " + out("v.gguf"),
                           dir_);
  ASSERT_EQ(result.exit_code, 0) << result.output;
  auto file = gguf::GgufFile::open(dir_ / "v.gguf");
  EXPECT_EQ(file.get_uint("llama.vocab_size"), 50257u);
  EXPECT_EQ(file.get_string("tokenizer.ggml.pre"), "gpt-2");

  auto both = run_tether("make-model --vocab '" + vocab.string() + "' --vocab-size 500 -o " +
                             out("w.gguf"),
                         dir_);
  EXPECT_NE(both.exit_code, 0);
  EXPECT_NE(both.output.find("--vocab-size"), std::string::npos) << both.output;
}

TEST_F(MakeModelCommandTest, ArchAndRopeScalingFlags) {
  auto result = run_tether("make-model --preset tiny --type q8_0 --layers 1 --vocab-size 600 "
                           "--arch qwen2 --rope-scaling yarn --rope-scale-factor 4 "
                           "--rope-original-context 1024 -o " + out("q.gguf"),
                           dir_);
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("qwen2"), std::string::npos) << result.output;
  auto file = gguf::GgufFile::open(dir_ / "q.gguf");
  EXPECT_EQ(file.get_string("general.architecture"), "qwen2");
  EXPECT_EQ(file.get_string("qwen2.rope.scaling.type"), "yarn");
  EXPECT_EQ(file.get_uint("qwen2.rope.scaling.original_context_length"), 1024u);
  EXPECT_NE(file.find_tensor("blk.0.attn_q.bias"), nullptr);

  result = run_tether("make-model --arch gpt2 -o " + out("x.gguf"), dir_);
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(result.output.find("unknown architecture 'gpt2'"), std::string::npos) << result.output;
}

}  // namespace
}  // namespace tether
