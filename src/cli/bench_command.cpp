#include "cli/commands.h"
#include "common/error.h"

namespace tether::cli {

// Placeholder until the bench subcommand lands in this session's work.
void add_bench_command(CLI::App& app, CommandResult& result) {
  app.add_subcommand("bench", "(not built yet)")->callback([&result] {
    throw_error(ErrorCode::kUnsupported, "'bench' is not built yet");
  });
}

}  // namespace tether::cli
