#include "chat/tool_call_id_generator.h"

#include <string_view>

namespace tether::chat {
namespace {

constexpr std::string_view kAlphanumerics =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
constexpr int kOpenAiIdChars = 24;
constexpr int kMistralIdChars = 9;

uint64_t random_seed() {
  std::random_device device;
  return (static_cast<uint64_t>(device()) << 32) ^ device();
}

}  // namespace

ToolCallIdGenerator::ToolCallIdGenerator(uint64_t seed) : rng_(seed) {}

ToolCallIdGenerator::ToolCallIdGenerator() : rng_(random_seed()) {}

std::string ToolCallIdGenerator::next(ToolCallFormat format) {
  if (format == ToolCallFormat::kMistral) return alphanumerics(kMistralIdChars);
  return "call_" + alphanumerics(kOpenAiIdChars);
}

std::string ToolCallIdGenerator::alphanumerics(int count) {
  std::uniform_int_distribution<size_t> pick(0, kAlphanumerics.size() - 1);
  std::string out;
  out.reserve(count);
  for (int char_idx = 0; char_idx < count; ++char_idx) out.push_back(kAlphanumerics[pick(rng_)]);
  return out;
}

}  // namespace tether::chat
