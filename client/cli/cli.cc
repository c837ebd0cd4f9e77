#include "client/cli/cli.h"

#include <memory>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "client/cli/flags.h"

namespace octet::cli {
namespace {

// "NOT_FOUND: unknown model 'x'" for server errors; usage errors and client-side checks say
// enough without their code.
std::string ErrorLine(const absl::Status& status) {
  std::string message = absl::StrReplaceAll(status.message(), {{"\r", " "}, {"\n", "; "}});
  if (message.empty()) message = "failed";
  if (status.code() == absl::StatusCode::kInvalidArgument) return message;
  return absl::StrCat(message, " (", absl::StatusCodeToString(status.code()), ")");
}

int Fail(Console& console, const std::string& command, const absl::Status& status, int code) {
  console.err << "octet" << (command.empty() ? "" : " ") << command << ": " << ErrorLine(status)
              << "\n";
  return code;
}

absl::Status Dispatch(const CommandSpec& command, const std::vector<std::string>& args,
                      const client::Client& client, Console& console, bool* usage_error) {
  const std::string model = args.empty() ? "" : args[0];
  const bool json = absl::GetFlag(FLAGS_json);
  const ModelRef ref{model, absl::GetFlag(FLAGS_model_version)};
  *usage_error = true;
  if (command.name == "infer") {
    absl::StatusOr<InferOptions> options = InferOptionsFromFlags(model);
    if (!options.ok()) return options.status();
    *usage_error = false;
    return RunInfer(client, *options, console);
  }
  if (command.name == "calibrate") {
    absl::StatusOr<CalibrateOptions> options = CalibrateOptionsFromFlags(model);
    if (!options.ok()) return options.status();
    *usage_error = false;
    return RunCalibrate(client, *options, console);
  }
  if (command.name == "perf") {
    absl::StatusOr<PerfOptions> options = PerfOptionsFromFlags(model);
    if (!options.ok()) return options.status();
    *usage_error = false;
    return RunPerf(client, *options, console);
  }
  *usage_error = false;
  if (command.name == "health") return RunHealth(client, model, json, console);
  if (command.name == "models") return RunModels(client, absl::GetFlag(FLAGS_ready), json, console);
  if (command.name == "metadata") return RunMetadata(client, ref, json, console);
  if (command.name == "load") return RunLoadModel(client, model, console);
  if (command.name == "unload") return RunUnloadModel(client, model, console);
  if (command.name == "stats") return RunStats(client, ref, json, console);
  if (command.name == "report") return RunReport(client, ref, json, console);
  return absl::InternalError(absl::StrCat("command '", command.name, "' has no implementation"));
}

}  // namespace

int RunCommandLine(const std::vector<std::string>& args, Console& console) {
  if (args.size() < 2) {
    console.err << UsageText();
    return kExitUsage;
  }
  const std::string name = args[1];
  if (name == "help") {
    const CommandSpec* about = args.size() > 2 ? FindCommand(args[2]) : nullptr;
    console.out << (about ? CommandHelpText(*about) : UsageText());
    return kExitOk;
  }
  const CommandSpec* command = FindCommand(name);
  if (command == nullptr) {
    std::vector<std::string> names;
    for (const CommandSpec& c : Commands()) names.push_back(c.name);
    return Fail(console, "",
                absl::InvalidArgumentError(absl::StrCat(
                    "unknown command '", name, "' (commands: ", absl::StrJoin(names, ", "), ")")),
                kExitUsage);
  }
  const std::vector<std::string> rest(args.begin() + 2, args.end());
  const int count = static_cast<int>(rest.size());
  if (count < command->min_arguments || count > command->max_arguments) {
    return Fail(
        console, name,
        absl::InvalidArgumentError(absl::StrCat(
            count < command->min_arguments ? "missing" : "unexpected", " argument",
            count < command->min_arguments ? "" : absl::StrCat(" '", rest.back(), "'"),
            "; usage: octet ", name,
            command->arguments.empty() ? "" : absl::StrCat(" ", command->arguments), " [flags]")),
        kExitUsage);
  }
  if (absl::Status s = CheckFlagsApply(*command); !s.ok()) {
    return Fail(console, name, s, kExitUsage);
  }
  absl::StatusOr<client::ClientOptions> options = ClientOptionsFromFlags();
  if (!options.ok()) return Fail(console, name, options.status(), kExitUsage);
  absl::StatusOr<std::unique_ptr<client::Client>> client = client::Client::Create(*options);
  if (!client.ok()) {
    // Bad options are usage errors; an unreadable certificate is a failure.
    return Fail(
        console, name, client.status(),
        client.status().code() == absl::StatusCode::kInvalidArgument ? kExitUsage : kExitFailure);
  }
  bool usage_error = false;
  const absl::Status status = Dispatch(*command, rest, **client, console, &usage_error);
  if (!status.ok()) return Fail(console, name, status, usage_error ? kExitUsage : kExitFailure);
  return kExitOk;
}

}  // namespace octet::cli
