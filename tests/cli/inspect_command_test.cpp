#include <algorithm>
#include <array>
#include <cstdio>
#include <fstream>
#include <string>
#include <sys/wait.h>

#include <boost/json.hpp>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "engine/gguf/gguf_writer.h"
#include "test_paths.h"

namespace tether::cli {
namespace {

namespace json = boost::json;
using gguf::Array;
using gguf::GgufWriter;
using gguf::Value;
using gguf::ValueType;

struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs the built `tether` binary; stderr goes to a file beside the outputs.
RunResult run_tether(const std::string& args, const std::filesystem::path& dir) {
  const auto err_path = dir / "stderr.txt";
  const std::string command = fmt::format("'{}' {} 2>'{}'", tether::testing::tether_binary().string(),
                                          args, err_path.string());
  RunResult result;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return result;
  std::array<char, 4096> buffer;
  size_t n;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) result.out.append(buffer.data(), n);
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream err(err_path);
  result.err.assign(std::istreambuf_iterator<char>(err), std::istreambuf_iterator<char>());
  return result;
}

std::filesystem::path write_model(const std::filesystem::path& dir) {
  GgufWriter writer(3, 64);
  writer.set("general.architecture", Value::of_string("llama"));
  writer.set("llama.context_length", Value::of_u32(2048));
  writer.set("llama.rope.freq_base", Value::of_f32(10000.0f));
  writer.set("tokenizer.ggml.add_bos_token", Value::of_bool(true));
  std::vector<std::string> tokens;
  for (int i = 0; i < 100; ++i) tokens.push_back("tok" + std::to_string(i));
  tokens[1] = "\xff";  // invalid UTF-8 must not break the JSON
  writer.set("tokenizer.ggml.tokens", Value::of_strings(tokens));
  writer.set("test.nested", Value::of_array(Array{ValueType::kArray, {Value::of_i32s({-1, 2})}}));
  writer.add_tensor("token_embd.weight", TensorType::kF32, {8, 4}, std::vector<uint8_t>(128, 0));
  writer.add_tensor("blk.0.attn_q.weight", TensorType::kQ8_0, {64, 2}, std::vector<uint8_t>(136, 0));
  const auto path = dir / "model.gguf";
  writer.write_file(path);
  return path;
}

TEST(InspectCommandTest, PrintsHeaderMetadataAndTensorTable) {
  const auto dir = tether::testing::make_temp_dir("inspect_text");
  const auto path = write_model(dir);
  const auto result = run_tether("inspect '" + path.string() + "'", dir);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const std::string& out = result.out;
  EXPECT_NE(out.find("version:      3"), std::string::npos) << out;
  EXPECT_NE(out.find("alignment:    64"), std::string::npos) << out;
  EXPECT_NE(out.find("tensors:      2"), std::string::npos) << out;
  EXPECT_NE(out.find("metadata:     7 keys"), std::string::npos) << out;  // incl. general.alignment
  EXPECT_NE(out.find(fmt::format("file size:    {} bytes", std::filesystem::file_size(path))),
            std::string::npos) << out;
  EXPECT_NE(out.find("\"llama\""), std::string::npos) << out;
  EXPECT_NE(out.find("2048"), std::string::npos) << out;
  EXPECT_NE(out.find("[100 strings: \"tok0\", \"\xff\", \"tok2\""), std::string::npos) << out;
  EXPECT_NE(out.find("\"tok7\", ... ]"), std::string::npos) << out;
  EXPECT_EQ(out.find("tok8"), std::string::npos) << out;  // elided
  EXPECT_NE(out.find("[[-1, 2]]"), std::string::npos) << out;
  EXPECT_NE(out.find("token_embd.weight    f32      [8, 4]"), std::string::npos) << out;
  EXPECT_NE(out.find("blk.0.attn_q.weight  q8_0     [64, 2]"), std::string::npos) << out;
  EXPECT_NE(out.find("128           136"), std::string::npos) << out;  // q8_0: offset, bytes
  std::filesystem::remove_all(dir);
}

TEST(InspectCommandTest, JsonIsOneDocumentWithElidedArrays) {
  const auto dir = tether::testing::make_temp_dir("inspect_json");
  const auto path = write_model(dir);
  const auto result = run_tether("inspect --json --max-items 3 '" + path.string() + "'", dir);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  json::value doc = json::parse(result.out);  // throws (failing the test) if not valid JSON
  const auto& root = doc.as_object();
  EXPECT_EQ(root.at("version").to_number<int>(), 3);
  EXPECT_EQ(root.at("alignment").to_number<int>(), 64);
  EXPECT_EQ(root.at("tensor_count").to_number<int>(), 2);
  EXPECT_EQ(root.at("file_size").to_number<uint64_t>(), std::filesystem::file_size(path));
  EXPECT_EQ(root.at("data_offset").to_number<uint64_t>() % 64, 0u);
  const auto& metadata = root.at("metadata").as_array();
  ASSERT_EQ(metadata.size(), 7u);
  EXPECT_EQ(metadata[0].at("key"), "general.alignment");
  EXPECT_EQ(metadata[1].at("value"), "llama");
  EXPECT_EQ(metadata[2].at("type"), "uint32");
  EXPECT_EQ(metadata[3].at("value").to_number<double>(), 10000.0);
  EXPECT_EQ(metadata[4].at("value"), true);
  const auto& tokens = metadata[5].at("value").as_object();
  EXPECT_EQ(tokens.at("element_type"), "string");
  EXPECT_EQ(tokens.at("count").to_number<int>(), 100);
  EXPECT_EQ(tokens.at("elided"), true);
  ASSERT_EQ(tokens.at("items").as_array().size(), 3u);
  EXPECT_EQ(tokens.at("items").as_array()[1], "\xef\xbf\xbd");  // U+FFFD for the bad byte
  const auto& nested = metadata[6].at("value").as_object();
  EXPECT_EQ(nested.at("elided"), false);
  EXPECT_EQ(nested.at("items").as_array()[0].at("items").as_array()[0].to_number<int>(), -1);
  const auto& tensors = root.at("tensors").as_array();
  ASSERT_EQ(tensors.size(), 2u);
  EXPECT_EQ(tensors[1].at("name"), "blk.0.attn_q.weight");
  EXPECT_EQ(tensors[1].at("type"), "q8_0");
  EXPECT_EQ(tensors[1].at("bytes").to_number<int>(), 136);
  EXPECT_EQ(tensors[1].at("offset").to_number<int>(), 128);
  EXPECT_EQ(tensors[0].at("dims").as_array().size(), 2u);

  const auto full = run_tether("inspect --json --max-items 0 '" + path.string() + "'", dir);
  ASSERT_EQ(full.exit_code, 0) << full.err;
  const auto full_doc = json::parse(full.out);
  EXPECT_EQ(full_doc.at("metadata").as_array()[5].at("value").at("items").as_array().size(), 100u);
  std::filesystem::remove_all(dir);
}

TEST(InspectCommandTest, ErrorsGoToStderrWithNonZeroExit) {
  const auto dir = tether::testing::make_temp_dir("inspect_errors");
  const auto missing = run_tether("inspect '" + (dir / "missing.gguf").string() + "'", dir);
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_TRUE(missing.out.empty());
  EXPECT_NE(missing.err.find("missing.gguf"), std::string::npos) << missing.err;

  const auto path = write_model(dir);
  std::filesystem::resize_file(path, 100);
  const auto truncated = run_tether("inspect --json '" + path.string() + "'", dir);
  EXPECT_NE(truncated.exit_code, 0);
  EXPECT_TRUE(truncated.out.empty());
  EXPECT_NE(truncated.err.find("at byte"), std::string::npos) << truncated.err;
  EXPECT_NE(truncated.err.find("(size 100)"), std::string::npos) << truncated.err;
  EXPECT_EQ(std::count(truncated.err.begin(), truncated.err.end(), '\n'), 1) << truncated.err;

  const auto no_file = run_tether("inspect", dir);
  EXPECT_NE(no_file.exit_code, 0);
  std::filesystem::remove_all(dir);
}

TEST(InspectCommandTest, InspectsRealVocabFile) {
  TETHER_SKIP_WITHOUT_SHARED_TESTDATA();
  const auto dir = tether::testing::make_temp_dir("inspect_vocab");
  const auto path = tether::testing::shared_testdata_dir() / "vocab" / "ggml-vocab-gpt-2.gguf";
  const auto result = run_tether("inspect --json '" + path.string() + "'", dir);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto doc = json::parse(result.out);
  bool found_tokens = false;
  for (const auto& kv : doc.at("metadata").as_array()) {
    if (kv.at("key") == "tokenizer.ggml.tokens") {
      found_tokens = true;
      EXPECT_EQ(kv.at("value").at("count").to_number<int>(), 50257);
    }
  }
  EXPECT_TRUE(found_tokens);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace tether::cli
