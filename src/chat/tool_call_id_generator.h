#pragma once

#include <cstdint>
#include <random>
#include <string>

#include "chat/tool_call_format.h"

namespace tether::chat {

// Makes ids for calls whose format carries none. OpenAI's shape is
// `call_` + 24 alphanumerics; Mistral's templates refuse any id that is not
// exactly 9 alphanumerics when the conversation comes back, so Mistral gets
// those. Seeded, so tests (and one-shot vs streaming parses) can agree.
class ToolCallIdGenerator {
 public:
  explicit ToolCallIdGenerator(uint64_t seed);
  // Seeded from std::random_device.
  ToolCallIdGenerator();

  std::string next(ToolCallFormat format);

 private:
  std::string alphanumerics(int count);

  std::mt19937_64 rng_;
};

}  // namespace tether::chat
