#pragma once

#include <CLI/CLI.hpp>

namespace tether::cli {

// Set by the subcommand that ran; main returns it.
struct CommandResult {
  int exit_code = 0;
};

// Each adds one subcommand to `app`. The subcommand's callback does the work,
// throws tether::Error for expected failures, and sets result.exit_code.
void add_inspect_command(CLI::App& app, CommandResult& result);
void add_tokenize_command(CLI::App& app, CommandResult& result);
void add_make_model_command(CLI::App& app, CommandResult& result);
void add_bench_command(CLI::App& app, CommandResult& result);
void add_generate_command(CLI::App& app, CommandResult& result);
void add_serve_command(CLI::App& app, CommandResult& result);
void add_jobs_command(CLI::App& app, CommandResult& result);

}  // namespace tether::cli
