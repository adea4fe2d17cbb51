#include "chat/tool_call_format.h"

#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "test_paths.h"

namespace tether::chat {
namespace {

std::string read_template(const std::string& name) {
  std::ifstream in(testing::shared_testdata_dir() / "chat-templates" / name, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

TEST(ToolCallFormatTest, DetectsTheFamilyOfRealTemplates) {
  TETHER_SKIP_WITHOUT_SHARED_TESTDATA();
  const struct {
    const char* file;
    ToolCallFormat format;
  } cases[] = {
      {"Qwen-Qwen2.5-7B-Instruct.jinja", ToolCallFormat::kHermes},
      {"Qwen-Qwen3-0.6B.jinja", ToolCallFormat::kHermes},
      {"NousResearch-Hermes-3-Llama-3.1-8B-tool_use.jinja", ToolCallFormat::kHermes},
      {"meta-llama-Llama-3.1-8B-Instruct.jinja", ToolCallFormat::kLlama3Json},
      {"meta-llama-Llama-3.2-3B-Instruct.jinja", ToolCallFormat::kLlama3Json},
      {"mistralai-Mistral-Nemo-Instruct-2407.jinja", ToolCallFormat::kMistral},
      {"moonshotai-Kimi-K2.jinja", ToolCallFormat::kKimiK2},
      // No tool syntax of a supported family: the ChatML/Hermes default.
      {"google-gemma-2-2b-it.jinja", ToolCallFormat::kHermes},
  };
  for (const auto& c : cases) {
    const std::string source = read_template(c.file);
    ASSERT_FALSE(source.empty()) << c.file;
    EXPECT_EQ(detect_tool_call_format(source, "llama"), c.format) << c.file;
  }
}

TEST(ToolCallFormatTest, DefaultsToHermes) {
  EXPECT_EQ(detect_tool_call_format("", "llama"), ToolCallFormat::kHermes);
  EXPECT_EQ(detect_tool_call_format("{{ '<|im_start|>' + message.role }}", "qwen2"), ToolCallFormat::kHermes);
}

TEST(ToolCallFormatTest, NamesEachFormat) {
  EXPECT_EQ(tool_call_format_name(ToolCallFormat::kHermes), "hermes");
  EXPECT_EQ(tool_call_format_name(ToolCallFormat::kLlama3Json), "llama3_json");
  EXPECT_EQ(tool_call_format_name(ToolCallFormat::kMistral), "mistral");
  EXPECT_EQ(tool_call_format_name(ToolCallFormat::kKimiK2), "kimi_k2");
}

}  // namespace
}  // namespace tether::chat
