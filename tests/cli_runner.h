#pragma once

#include <string>

namespace tether::testing {

struct CliResult {
  int exit_code = -1;
  std::string output;  // stdout, plus whatever `redirect` sends there
};

// Runs the built `tether ARGS` through the shell. `redirect` says where
// stderr goes ("2>&1" joins it to the output, "2>/dev/null" drops it);
// `stdin_text`, when not empty, is piped to the command's standard input.
CliResult run_tether(const std::string& args, const std::string& redirect = "2>&1",
                     const std::string& stdin_text = "");

}  // namespace tether::testing
