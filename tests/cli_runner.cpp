#include "cli_runner.h"

#include <array>
#include <cstdio>
#include <sys/wait.h>

#include "test_paths.h"

namespace tether::testing {

CliResult run_tether(const std::string& args, const std::string& redirect,
                     const std::string& stdin_text) {
  std::string command = "'" + tether_binary().string() + "' " + args + " " + redirect;
  if (!stdin_text.empty()) command = "printf '%s' '" + stdin_text + "' | " + command;
  CliResult result;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return result;
  std::array<char, 4096> buffer{};
  size_t n = 0;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) result.output.append(buffer.data(), n);
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

}  // namespace tether::testing
