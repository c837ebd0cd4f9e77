// The `octet` command line: its flags (Abseil flags, defined once in flags.cc), its commands and
// which flags each takes, and the conversion of flags into ClientOptions and command options.
//
// Every conversion checks what it reads and returns InvalidArgument naming the flag, so that main
// can tell a usage error (exit code 2) from a failure of the command (exit code 1). Flags are
// written with dashes in messages (--top-k); Abseil's names use underscores, and main accepts
// either (NormalizeFlagNames).
//
// Threads: reads process-wide flags; call from the main thread after parsing (tests use
// absl::FlagSaver and absl::SetFlag).
#ifndef OCTET_CLIENT_CLI_FLAGS_H_
#define OCTET_CLIENT_CLI_FLAGS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/flags/declare.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "client/cli/commands.h"
#include "client/octet_client.h"

// Connection (every command).
ABSL_DECLARE_FLAG(std::string, url);
ABSL_DECLARE_FLAG(bool, tls);
ABSL_DECLARE_FLAG(std::string, ca);
ABSL_DECLARE_FLAG(std::string, cert);
ABSL_DECLARE_FLAG(std::string, key);
ABSL_DECLARE_FLAG(std::string, token);
ABSL_DECLARE_FLAG(std::string, token_file);
ABSL_DECLARE_FLAG(absl::Duration, timeout);
ABSL_DECLARE_FLAG(bool, json);
// Model and input.
ABSL_DECLARE_FLAG(std::string, model_version);
ABSL_DECLARE_FLAG(std::string, input);
ABSL_DECLARE_FLAG(std::string, dataset);
ABSL_DECLARE_FLAG(int64_t, index);
ABSL_DECLARE_FLAG(int64_t, batch);
ABSL_DECLARE_FLAG(std::string, file);
ABSL_DECLARE_FLAG(std::string, shape);
ABSL_DECLARE_FLAG(std::string, scale);
ABSL_DECLARE_FLAG(std::string, mean);
ABSL_DECLARE_FLAG(std::string, std);
ABSL_DECLARE_FLAG(std::string, layout);
// models, infer.
ABSL_DECLARE_FLAG(bool, ready);
ABSL_DECLARE_FLAG(int, top_k);
ABSL_DECLARE_FLAG(std::string, labels);
ABSL_DECLARE_FLAG(std::string, output);
ABSL_DECLARE_FLAG(std::string, id);
// calibrate.
ABSL_DECLARE_FLAG(int64_t, samples);
ABSL_DECLARE_FLAG(std::string, validation_dataset);
ABSL_DECLARE_FLAG(int64_t, validation_samples);
ABSL_DECLARE_FLAG(std::string, server_dataset);
ABSL_DECLARE_FLAG(std::string, server_validation_dataset);
ABSL_DECLARE_FLAG(std::string, method);
ABSL_DECLARE_FLAG(double, percentile);
ABSL_DECLARE_FLAG(std::optional<double>, tolerance);
ABSL_DECLARE_FLAG(std::string, tolerance_mode);
ABSL_DECLARE_FLAG(std::string, precision);
ABSL_DECLARE_FLAG(bool, per_tensor_weights);
ABSL_DECLARE_FLAG(int, chunk);
ABSL_DECLARE_FLAG(absl::Duration, calibration_timeout);
// perf.
ABSL_DECLARE_FLAG(std::string, concurrency);
ABSL_DECLARE_FLAG(std::string, rate);
ABSL_DECLARE_FLAG(int, max_outstanding);
ABSL_DECLARE_FLAG(absl::Duration, duration);
ABSL_DECLARE_FLAG(int64_t, requests);
ABSL_DECLARE_FLAG(absl::Duration, warmup);
ABSL_DECLARE_FLAG(std::string, csv);
ABSL_DECLARE_FLAG(std::string, plot);

namespace octet::cli {

struct CommandSpec {
  std::string name;
  std::string arguments;  // e.g. "MODEL" or "[MODEL]"
  std::string summary;
  int min_arguments = 0;
  int max_arguments = 0;
  // Flags (Abseil names) this command takes besides the connection flags.
  std::vector<std::string> flags;
};

const std::vector<CommandSpec>& Commands();
// nullptr for an unknown command.
const CommandSpec* FindCommand(const std::string& name);

// The usage text `octet` prints for --help, `octet help` and with no command.
std::string UsageText();
// `octet help COMMAND` and `octet COMMAND --help`: the synopsis and every flag the command takes,
// with its description and default.
std::string CommandHelpText(const CommandSpec& command);

// Sets the flags given in `args` (argv: the program name first) and returns the positional
// arguments, the program name first. Accepts --name=value, --name value, --name and --noname (bool
// flags), dashes or underscores in names (--top-k, --top_k), and flags before, between and after
// the positional arguments; everything after a bare "--" is positional. InvalidArgument with one
// line naming the flag for an unknown flag, a missing value or a value of the wrong type.
//
// This replaces absl::ParseCommandLine, which prints its own errors and exits with status 1,
// so that usage errors read like every other error and exit with status 2. The values are
// parsed by Abseil (CommandLineFlag::ParseFrom), so they mean what Abseil's parser would make
// of them. --help and --helpfull are main()'s business and are refused here.
absl::StatusOr<std::vector<std::string>> ParseFlags(const std::vector<std::string>& args);

// InvalidArgument when a flag set to other than its default does not apply to `command`.
absl::Status CheckFlagsApply(const CommandSpec& command);

absl::StatusOr<client::ClientOptions> ClientOptionsFromFlags();
absl::StatusOr<InputSource> InputSourceFromFlags();
absl::StatusOr<InferOptions> InferOptionsFromFlags(const std::string& model);
absl::StatusOr<CalibrateOptions> CalibrateOptionsFromFlags(const std::string& model);
absl::StatusOr<PerfOptions> PerfOptionsFromFlags(const std::string& model);

}  // namespace octet::cli

#endif  // OCTET_CLIENT_CLI_FLAGS_H_
