#include "api/served_model.h"

#include <algorithm>
#include <chrono>

#include "chat/chat_template.h"
#include "common/error.h"
#include "constrain/vocabulary.h"
#include "engine/model/demo_model.h"

namespace tether::api {

bool ServedModel::answers_to(std::string_view name) const {
  return name == id || std::find(aliases.begin(), aliases.end(), name) != aliases.end();
}

std::shared_ptr<ServedModel> make_served_model(std::shared_ptr<const gguf::GgufFile> file,
                                               std::string id, std::vector<std::string> aliases,
                                               const sched::EngineOptions& options, int32_t replicas) {
  if (replicas < 1) throw_error(ErrorCode::kInvalidArgument, "a served model needs at least one replica, got {}", replicas);
  auto served = std::make_shared<ServedModel>();
  served->id = std::move(id);
  served->aliases = std::move(aliases);
  served->created = std::chrono::duration_cast<std::chrono::seconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
  served->tokenizer =
      std::make_shared<const tokenizer::Tokenizer>(tokenizer::Tokenizer::from_gguf(*file));
  served->chat_template = std::make_shared<const chat::ChatTemplate>(chat::chat_template_for(*file));
  served->model = std::make_shared<model::LlamaModel>(model::LlamaModel::load(file));
  served->tool_format = chat::detect_tool_call_format(
      served->chat_template->source(), model::architecture_name(served->model->config().arch));
  served->vocabulary = std::make_shared<const constrain::Vocabulary>(*served->tokenizer);
  const tokenizer::Tokenizer& tok = *served->tokenizer;
  if (tok.bos_id() != tokenizer::kNoToken) served->bos_text = tok.token_to_piece(tok.bos_id(), true);
  if (tok.eos_id() != tokenizer::kNoToken) served->eos_text = tok.token_to_piece(tok.eos_id(), true);
  served->file = std::move(file);
  served->engines.push_back(std::make_shared<sched::Engine>(served->model, served->tokenizer, options));
  for (int32_t i = 1; i < replicas; ++i) {
    auto model = std::make_shared<model::LlamaModel>(served->model->share_weights());
    served->engines.push_back(std::make_shared<sched::Engine>(std::move(model), served->tokenizer, options));
  }
  return served;
}

std::shared_ptr<ServedModel> load_served_model(const std::string& path, std::string id,
                                               std::vector<std::string> aliases,
                                               const sched::EngineOptions& options, int32_t replicas) {
  auto file = std::make_shared<const gguf::GgufFile>(gguf::GgufFile::open(model::resolve_model_path(path)));
  return make_served_model(std::move(file), std::move(id), std::move(aliases), options, replicas);
}

std::string local_replica_id(size_t index) { return "local-" + std::to_string(index); }

}  // namespace tether::api
