#include <cstdio>
#include <exception>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "cli/commands.h"
#include "common/error.h"

int main(int argc, char** argv) {
  CLI::App app{"tether: a self-hosted, session-aware inference and agent platform"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "tether 0.1.0");

  tether::cli::CommandResult result;
  tether::cli::add_inspect_command(app, result);
  tether::cli::add_tokenize_command(app, result);
  tether::cli::add_make_model_command(app, result);
  tether::cli::add_bench_command(app, result);
  tether::cli::add_generate_command(app, result);
  tether::cli::add_serve_command(app, result);
  tether::cli::add_jobs_command(app, result);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const tether::Error& e) {
    fmt::print(stderr, "tether: error: {}\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    fmt::print(stderr, "tether: internal error: {}\n", e.what());
    return 2;
  }
  return result.exit_code;
}
