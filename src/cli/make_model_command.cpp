#include "cli/commands.h"
#include "common/error.h"

namespace tether::cli {

// Placeholder until the make-model subcommand lands in this session's work.
void add_make_model_command(CLI::App& app, CommandResult& result) {
  app.add_subcommand("make-model", "(not built yet)")->callback([&result] {
    throw_error(ErrorCode::kUnsupported, "'make-model' is not built yet");
  });
}

}  // namespace tether::cli
