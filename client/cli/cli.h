// The `octet` program after its flags are parsed: picks the command, checks its arguments and
// flags, connects, runs it, and turns the outcome into an exit code and at most one error line.
//
//   std::vector<char*> rest = absl::ParseCommandLine(argc, argv);
//   return RunCommandLine({rest.begin(), rest.end()}, console);
//
// Exit codes: kExitOk, kExitFailure (the command failed: unreachable server, unknown model, bad
// file, ...) and kExitUsage (wrong arguments or flags). Error lines read
// "octet <command>: <what failed>" and never span lines.
//
// Threads: reads process-wide flags; call from the main thread.
#ifndef OCTET_CLIENT_CLI_CLI_H_
#define OCTET_CLIENT_CLI_CLI_H_

#include <string>
#include <vector>

#include "client/cli/commands.h"

namespace octet::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

// `args`: the program name, then the positional arguments (COMMAND and its ARGS).
int RunCommandLine(const std::vector<std::string>& args, Console& console);

}  // namespace octet::cli

#endif  // OCTET_CLIENT_CLI_CLI_H_
