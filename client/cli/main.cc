// octet: the command-line client of an Octet server (see cli.h and `octet help`).
#include <unistd.h>

#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/synchronization/mutex.h"
#include "client/cli/cli.h"
#include "client/cli/flags.h"

int main(int argc, char** argv) {
  // Debian's Abseil checks every Mutex acquisition for lock-order cycles (a debug aid, on in its
  // build): 1-3% of the server's CPU in GraphCycles (bench/results/serving.md). The tests keep it.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  absl::SetProgramUsageMessage(octet::cli::UsageText());
  absl::FlagsUsageConfig usage_config;
  // --help lists Octet's flags (defined in client/cli/), not Abseil's own.
  usage_config.contains_help_flags = [](absl::string_view file) {
    return absl::StrContains(file, "client/cli/");
  };
  usage_config.contains_helpshort_flags = usage_config.contains_help_flags;
  usage_config.version_string = [] { return std::string("octet (client of the Octet server)\n"); };
  absl::SetFlagsUsageConfig(usage_config);

  const std::vector<std::string> args(argv, argv + argc);
  const octet::cli::CommandSpec* command = nullptr;
  for (const std::string& arg : args) {
    if (arg == "--") break;
    if (command == nullptr) command = octet::cli::FindCommand(arg);
    if (arg == "--help" || arg == "-help" || arg == "-h" || arg == "--helpshort") {
      // "octet --help" lists the commands; "octet infer --help" describes infer's flags.
      std::cout << (command ? octet::cli::CommandHelpText(*command) : octet::cli::UsageText());
      return octet::cli::kExitOk;
    }
    if (arg == "--helpfull" || arg == "--version") {
      // Abseil describes every flag (or prints the version), then exits.
      char* help_argv[] = {argv[0], const_cast<char*>(arg.c_str()), nullptr};
      absl::ParseCommandLine(2, help_argv);
    }
  }
  octet::cli::Console console{std::cout, std::cerr, isatty(STDERR_FILENO) != 0};
  absl::StatusOr<std::vector<std::string>> positional = octet::cli::ParseFlags(args);
  if (!positional.ok()) {
    std::cerr << "octet: " << positional.status().message() << "\n";
    return octet::cli::kExitUsage;
  }
  const int code = octet::cli::RunCommandLine(*positional, console);
  std::cout.flush();
  return code;
}
