#include "cli/commands.h"
#include "common/error.h"

namespace tether::cli {

// Placeholder until the tokenize subcommand lands in this session's work.
void add_tokenize_command(CLI::App& app, CommandResult& result) {
  app.add_subcommand("tokenize", "(not built yet)")->callback([&result] {
    throw_error(ErrorCode::kUnsupported, "'tokenize' is not built yet");
  });
}

}  // namespace tether::cli
