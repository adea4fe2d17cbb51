#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "chat/tool_call_format.h"
#include "engine/gguf/gguf_file.h"
#include "engine/model/llama_model.h"
#include "engine/tokenizer/tokenizer.h"
#include "sched/engine.h"

namespace tether::chat {
class ChatTemplate;
}
namespace tether::constrain {
class Vocabulary;
}

namespace tether::api {

// One model the server answers for: its engine and what turns requests
// into prompts (chat template, tool-call format, grammar vocabulary).
struct ServedModel {
  std::string id;                    // the name /v1/models lists and requests use
  std::vector<std::string> aliases;  // other names that select it (e.g. "@cf/moonshotai/kimi-k2.5")
  int64_t created = 0;               // unix seconds, for /v1/models
  std::shared_ptr<const gguf::GgufFile> file;
  std::shared_ptr<model::LlamaModel> model;
  std::shared_ptr<const tokenizer::Tokenizer> tokenizer;
  std::shared_ptr<const chat::ChatTemplate> chat_template;
  chat::ToolCallFormat tool_format = chat::ToolCallFormat::kHermes;  // from the template
  std::shared_ptr<const constrain::Vocabulary> vocabulary;
  // Local replicas: one engine each (its own KV pool, scheduler and compute
  // threads) over one shared copy of the weights. The router picks one per
  // request; replica i is "local-i" to it.
  std::vector<std::shared_ptr<sched::Engine>> engines;
  std::string bos_text, eos_text;  // what the template sees as bos_token / eos_token

  bool answers_to(std::string_view name) const;
};

// Loads the model of `file`, its tokenizer, chat template (ChatML when the
// file has none) and grammar vocabulary, and starts `replicas` (>= 1)
// engines over it.
std::shared_ptr<ServedModel> make_served_model(std::shared_ptr<const gguf::GgufFile> file,
                                               std::string id, std::vector<std::string> aliases,
                                               const sched::EngineOptions& options, int32_t replicas = 1);

// make_served_model() for a path (or "demo": the demo model).
std::shared_ptr<ServedModel> load_served_model(const std::string& path, std::string id,
                                               std::vector<std::string> aliases,
                                               const sched::EngineOptions& options, int32_t replicas = 1);

// The router's id of local replica `index`: "local-<index>".
std::string local_replica_id(size_t index);

}  // namespace tether::api
