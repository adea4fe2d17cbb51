#include <fstream>
#include <sstream>
#include <string>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "chat/chat_template.h"
#include "common/error.h"
#include "test_paths.h"

namespace tether::chat {
namespace {

boost::json::value load_golden() {
  const auto path = testing::shared_testdata_dir() / "chat-templates" / "golden.json";
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return boost::json::parse(buffer.str());
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// Every template x conversation of golden.json, rendered with the settings
// the reference used: byte-identical text where it rendered, an error where
// it raised.
TEST(ChatTemplateGoldenTest, EveryTemplateAndCaseMatchesTheReference) {
  TETHER_SKIP_WITHOUT_SHARED_TESTDATA();
  const boost::json::value golden = load_golden();
  const auto& cases = golden.at("cases").as_object();
  const auto& renders = golden.at("renders").as_object();
  int total = 0;
  int passed = 0;
  for (const auto& [template_name, template_renders] : renders) {
    const auto path = testing::shared_testdata_dir() / "chat-templates" / (std::string(template_name) + ".jinja");
    std::optional<ChatTemplate> chat_template;
    try {
      chat_template.emplace(read_file(path));
    } catch (const Error& e) {
      ADD_FAILURE() << template_name << ": parse failed: " << e.what();
      total += static_cast<int>(template_renders.as_object().size());
      continue;
    }
    for (const auto& [case_name, expected] : template_renders.as_object()) {
      ++total;
      const auto& conversation = cases.at(case_name).as_object();
      ChatTemplateInput input;
      input.messages = conversation.at("messages").as_array();
      if (const auto* tools = conversation.if_contains("tools")) input.tools = tools->as_array();
      input.add_generation_prompt = conversation.at("add_generation_prompt").as_bool();
      input.bos_token = "<s>";
      input.eos_token = "</s>";
      // The reference fixed strftime_now to 2026-01-15.
      input.now = std::chrono::sys_days{std::chrono::year{2026} / 1 / 15} + std::chrono::hours{12};
      const bool ok = expected.at("ok").as_bool();
      try {
        const std::string text = chat_template->render(input);
        if (!ok) {
          ADD_FAILURE() << template_name << " / " << case_name << ": rendered, but the reference raised "
                        << expected.at("error");
          continue;
        }
        const std::string want(expected.at("text").as_string());
        if (text != want) {
          ADD_FAILURE() << template_name << " / " << case_name << ": text differs\n--- want\n"
                        << want << "\n--- got\n" << text;
          continue;
        }
        ++passed;
      } catch (const Error& e) {
        if (ok) {
          ADD_FAILURE() << template_name << " / " << case_name << ": raised " << e.what();
          continue;
        }
        ++passed;
      }
    }
  }
  std::cout << "golden chat templates: " << passed << " / " << total << " renders match\n";
  EXPECT_EQ(passed, total);
  EXPECT_GE(total, 13 * 6);
}

}  // namespace
}  // namespace tether::chat
