#include "cli/commands.h"
#include "common/error.h"

namespace tether::cli {

// Placeholder until the inspect subcommand lands in this session's work.
void add_inspect_command(CLI::App& app, CommandResult& result) {
  app.add_subcommand("inspect", "(not built yet)")->callback([&result] {
    throw_error(ErrorCode::kUnsupported, "'inspect' is not built yet");
  });
}

}  // namespace tether::cli
