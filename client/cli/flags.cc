#include "client/cli/flags.h"

#include <algorithm>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>

#include "absl/flags/commandlineflag.h"
#include "absl/flags/flag.h"
#include "absl/flags/reflection.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/status_macros.h"

ABSL_FLAG(std::string, url, "localhost:8001", "server address, host:port");
ABSL_FLAG(bool, tls, false, "connect with TLS (implied by --ca, --cert, --key)");
ABSL_FLAG(std::string, ca, "", "PEM root certificate(s) to verify the server (default: system)");
ABSL_FLAG(std::string, cert, "", "PEM client certificate, for mutual TLS (with --key)");
ABSL_FLAG(std::string, key, "", "PEM client private key, for mutual TLS (with --cert)");
ABSL_FLAG(std::string, token, "", "bearer token sent as 'authorization: Bearer TOKEN'");
ABSL_FLAG(std::string, token_file, "", "read the bearer token from this file");
ABSL_FLAG(absl::Duration, timeout, absl::Seconds(30), "deadline of each call, e.g. 30s, 2m");
ABSL_FLAG(bool, json, false, "print JSON instead of text");

ABSL_FLAG(std::string, model_version, "", "model version (default: the server's choice)");
ABSL_FLAG(std::string, input, "", "model input to feed (default: the model's only input)");
ABSL_FLAG(std::string, dataset, "",
          "labelled images: idx:IMAGES[:LABELS] or cifar10:PATH (gzip allowed)");
ABSL_FLAG(int64_t, index, 0, "first image of --dataset to send");
ABSL_FLAG(int64_t, batch, 1, "images per request, from --index on (batch dimension N)");
ABSL_FLAG(std::string, file, "",
          "input tensor file: .npy, or raw little-endian bytes with --shape");
ABSL_FLAG(std::string, shape, "", "shape of a raw --file, e.g. 1,3,32,32");
ABSL_FLAG(std::string, scale, "1",
          "preprocessing x = (pixel*scale - mean[c]) / std[c]: scale, e.g. 1/255");
ABSL_FLAG(std::string, mean, "", "preprocessing: per-channel means, e.g. 0.4914,0.4822,0.4465");
ABSL_FLAG(std::string, std, "", "preprocessing: per-channel standard deviations");
ABSL_FLAG(std::string, layout, "NCHW", "model input layout: NCHW or NHWC");

ABSL_FLAG(bool, ready, false, "models: only models ready for inference");
ABSL_FLAG(int, top_k, 5, "infer: classes to show per sample");
ABSL_FLAG(std::string, labels, "", "infer: class names, one per line (line i names class i)");
ABSL_FLAG(std::string, output, "", "infer: the output to rank (default: the first)");
ABSL_FLAG(std::string, id, "", "infer: request id, echoed by the server");

ABSL_FLAG(int64_t, samples, 0,
          "calibrate: calibration images taken evenly spaced through --dataset (default 500), or "
          "the server's sample count with --server-dataset (default: the model's)");
ABSL_FLAG(std::string, validation_dataset, "",
          "calibrate: labelled images streamed to measure accuracy (FORMAT:PATH)");
ABSL_FLAG(int64_t, validation_samples, 0,
          "calibrate: validation images, evenly spaced (default: all)");
ABSL_FLAG(std::string, server_dataset, "",
          "calibrate: a calibration data set on the server, FORMAT:PATH in its data directory");
ABSL_FLAG(std::string, server_validation_dataset, "",
          "calibrate: a validation data set on the server");
ABSL_FLAG(std::string, method, "",
          "calibrate: minmax, percentile, entropy or mse (default: the model's)");
ABSL_FLAG(double, percentile, 0, "calibrate: percentile for --method=percentile, e.g. 99.99");
ABSL_FLAG(std::optional<double>, tolerance, std::nullopt,
          "calibrate: largest accuracy drop allowed (0 is valid; default: the model's)");
ABSL_FLAG(std::string, tolerance_mode, "",
          "calibrate: absolute (points) or relative (percent of FP32)");
ABSL_FLAG(std::string, precision, "",
          "calibrate: int8 (every eligible layer) or mixed (fall back to FP32 until the "
          "tolerance holds; the default)");
ABSL_FLAG(bool, per_tensor_weights, false, "calibrate: one weight scale per layer (comparison)");
ABSL_FLAG(int, chunk, 32, "calibrate: images per streamed message");
ABSL_FLAG(absl::Duration, calibration_timeout, absl::Minutes(30),
          "calibrate: deadline of the whole calibration");

ABSL_FLAG(std::string, concurrency, "1", "perf: requests in flight, a comma-separated sweep");
ABSL_FLAG(std::string, rate, "",
          "perf: fixed request rates per second instead of --concurrency, comma-separated");
ABSL_FLAG(int, max_outstanding, 1000, "perf: with --rate, most requests in flight");
ABSL_FLAG(absl::Duration, duration, absl::Seconds(5), "perf: measured time per step");
ABSL_FLAG(int64_t, requests, 0, "perf: measured requests per step instead of --duration");
ABSL_FLAG(absl::Duration, warmup, absl::Seconds(1), "perf: unmeasured time before each step");
ABSL_FLAG(std::string, csv, "", "perf: also write the results as CSV to this file ('-': stdout)");
ABSL_FLAG(std::string, plot, "", "perf: draw latency against throughput into this PNG (gnuplot)");

namespace octet::cli {
namespace {

const std::vector<std::string>& ConnectionFlags() {
  static const auto* flags = new std::vector<std::string>{
      "url", "tls", "ca", "cert", "key", "token", "token_file", "timeout", "json"};
  return *flags;
}

std::string Dashed(absl::string_view flag) {
  return absl::StrCat("--", absl::StrReplaceAll(flag, {{"_", "-"}}));
}

absl::Status Usage(absl::string_view message) { return absl::InvalidArgumentError(message); }

// Whether `name` is one of Octet's flags (not one of Abseil's, such as --flagfile).
bool ConnectionOrCommandFlag(absl::string_view name);

absl::StatusOr<std::vector<int>> ParsePositiveInts(const std::string& text, const char* flag) {
  std::vector<int> values;
  for (absl::string_view part : absl::StrSplit(text, ',')) {
    int v = 0;
    if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(part), &v) || v < 1) {
      return Usage(absl::StrCat(flag, ": '", part, "' is not a positive integer"));
    }
    values.push_back(v);
  }
  return values;
}

absl::StatusOr<std::vector<double>> ParsePositiveNumbers(const std::string& text,
                                                         const char* flag) {
  std::vector<double> values;
  for (absl::string_view part : absl::StrSplit(text, ',')) {
    double v = 0;
    if (!absl::SimpleAtod(absl::StripAsciiWhitespace(part), &v) || !(v > 0) || v > 1e9) {
      return Usage(absl::StrCat(flag, ": '", part, "' is not a positive number"));
    }
    values.push_back(v);
  }
  return values;
}

absl::StatusOr<std::string> ReadToken(const std::string& path) {
  std::ifstream file(path);
  if (!file) return Usage(absl::StrCat("--token-file: cannot read '", path, "'"));
  std::stringstream contents;
  contents << file.rdbuf();
  std::string token(absl::StripAsciiWhitespace(contents.str()));
  if (token.empty()) return Usage(absl::StrCat("--token-file: '", path, "' is empty"));
  return token;
}

}  // namespace

const std::vector<CommandSpec>& Commands() {
  static const std::vector<std::string> kInput = {"model_version", "input", "dataset", "index",
                                                  "batch",         "file",  "shape",   "scale",
                                                  "mean",          "std",   "layout"};
  auto with_input = [&](std::vector<std::string> flags) {
    flags.insert(flags.begin(), kInput.begin(), kInput.end());
    return flags;
  };
  static const auto* commands = new std::vector<CommandSpec>{
      {"health",
       "[MODEL]",
       "whether the server (and MODEL) is live and ready",
       0,
       1,
       {"model_version"}},
      {"models", "", "the model repository, with each model's state", 0, 0, {"ready"}},
      {"metadata", "MODEL", "MODEL's versions, inputs and outputs", 1, 1, {"model_version"}},
      {"load", "MODEL", "load (or reload) MODEL from the repository", 1, 1, {}},
      {"unload", "MODEL", "unload MODEL", 1, 1, {}},
      {"stats",
       "[MODEL]",
       "inference statistics (all models without MODEL)",
       0,
       1,
       {"model_version"}},
      {"infer", "MODEL",
       "classify images of a data set, or run a .npy/raw tensor; prints the top-k classes", 1, 1,
       with_input({"top_k", "labels", "output", "id"})},
      {"calibrate",
       "MODEL",
       "calibrate MODEL to INT8/mixed precision on the server, streaming a data set",
       1,
       1,
       {"model_version",
        "input",
        "dataset",
        "scale",
        "mean",
        "std",
        "layout",
        "samples",
        "validation_dataset",
        "validation_samples",
        "server_dataset",
        "server_validation_dataset",
        "method",
        "percentile",
        "tolerance",
        "tolerance_mode",
        "precision",
        "per_tensor_weights",
        "chunk",
        "calibration_timeout"}},
      {"report",
       "MODEL",
       "the calibration report stored with a calibrated version",
       1,
       1,
       {"model_version"}},
      {"perf", "MODEL",
       "load generator: throughput and p50/p90/p95/p99 latency per concurrency or rate", 1, 1,
       with_input({"concurrency", "rate", "max_outstanding", "duration", "requests", "warmup",
                   "csv", "plot"})},
  };
  return *commands;
}

namespace {

bool ConnectionOrCommandFlag(absl::string_view name) {
  for (const std::string& f : ConnectionFlags()) {
    if (f == name) return true;
  }
  for (const CommandSpec& c : Commands()) {
    for (const std::string& f : c.flags) {
      if (f == name) return true;
    }
  }
  return false;
}

}  // namespace

const CommandSpec* FindCommand(const std::string& name) {
  for (const CommandSpec& c : Commands()) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

std::string UsageText() {
  std::string out =
      "usage: octet [--url HOST:PORT] [--tls [--ca F] [--cert F --key F]] [--token T | "
      "--token-file F]\n             [--timeout 30s] [--json] COMMAND [ARGS] [flags]\n\n"
      "commands:\n";
  for (const CommandSpec& c : Commands()) {
    const std::string synopsis =
        c.arguments.empty() ? c.name : absl::StrCat(c.name, " ", c.arguments);
    out += absl::StrCat("  ", synopsis,
                        std::string(std::max<int>(2, 20 - static_cast<int>(synopsis.size())), ' '),
                        c.summary, "\n");
    std::vector<std::string> flags;
    for (const std::string& f : c.flags) flags.push_back(Dashed(f));
    if (!flags.empty()) {
      // Wrapped at about 100 columns under the summary.
      std::string line = "      ";
      for (const std::string& f : flags) {
        if (line.size() + f.size() > 98) {
          out += line + "\n";
          line = "      ";
        }
        line += " " + f;
      }
      out += line + "\n";
    }
  }
  out +=
      "\nexamples:\n"
      "  octet models\n"
      "  octet infer resnet8 --dataset cifar10:test.bin --index 17 --labels cifar10.names\n"
      "  octet infer mnist --file digit.npy --json\n"
      "  octet calibrate resnet8 --dataset cifar10:train.bin --samples 500 \\\n"
      "      --validation-dataset cifar10:test.bin --method percentile --percentile 99.99 "
      "--tolerance 0.5\n"
      "  octet perf resnet8 --concurrency 1,2,4,8 --duration 10s --csv perf.csv --plot perf.png\n"
      "\nFlags may be written --flag-name or --flag_name. 'octet --helpfull' describes every "
      "flag.\nExit status: 0 success, 1 failure, 2 usage error.\n";
  return out;
}

std::string CommandHelpText(const CommandSpec& command) {
  std::string out =
      absl::StrCat("usage: octet ", command.name, command.arguments.empty() ? "" : " ",
                   command.arguments, " [flags]\n  ", command.summary, "\n\nflags:\n");
  auto describe = [&](const std::string& name) {
    const absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    if (flag == nullptr) return;
    const std::string default_value = flag->DefaultValue();
    absl::StrAppend(&out, "  ", Dashed(name),
                    std::string(std::max<int>(2, 30 - 2 - name.size()), ' '), flag->Help(),
                    default_value.empty() || default_value == "false" || default_value == "0"
                        ? ""
                        : absl::StrCat(" [default ", default_value, "]"),
                    "\n");
  };
  for (const std::string& name : command.flags) describe(name);
  out += "\nconnection flags:\n";
  for (const std::string& name : ConnectionFlags()) describe(name);
  return out;
}

absl::StatusOr<std::vector<std::string>> ParseFlags(const std::vector<std::string>& args) {
  std::vector<std::string> positional;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (i == 0 || arg.size() < 2 || arg[0] != '-') {
      positional.push_back(arg);
      continue;
    }
    if (arg == "--") {
      positional.insert(positional.end(), args.begin() + i + 1, args.end());
      break;
    }
    // "-name" is accepted like "--name", as Abseil does.
    const absl::string_view body = absl::string_view(arg).substr(arg[1] == '-' ? 2 : 1);
    const size_t equals = body.find('=');
    std::string name(body.substr(0, equals));
    std::replace(name.begin(), name.end(), '-', '_');
    absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    bool negated = false;
    if (flag == nullptr && absl::StartsWith(name, "no")) {
      // --nojson, and --no-json as people also write it.
      flag = absl::FindCommandLineFlag(name.substr(absl::StartsWith(name, "no_") ? 3 : 2));
      negated = flag != nullptr && flag->IsOfType<bool>() && equals == absl::string_view::npos;
      if (!negated) flag = nullptr;
    }
    if (flag == nullptr || !ConnectionOrCommandFlag(flag->Name())) {
      return Usage(absl::StrCat("unknown flag ", Dashed(name), " (see octet help)"));
    }
    std::string value;
    if (negated) {
      value = "false";
    } else if (equals != absl::string_view::npos) {
      value = std::string(body.substr(equals + 1));
    } else if (flag->IsOfType<bool>()) {
      value = "true";
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      return Usage(absl::StrCat(Dashed(flag->Name()), " needs a value"));
    }
    std::string error;
    if (!flag->ParseFrom(value, &error)) {
      return Usage(absl::StrCat(Dashed(flag->Name()), ": ", error));
    }
  }
  return positional;
}

absl::Status CheckFlagsApply(const CommandSpec& command) {
  std::set<std::string> allowed(ConnectionFlags().begin(), ConnectionFlags().end());
  allowed.insert(command.flags.begin(), command.flags.end());
  std::set<std::string> known;
  for (const CommandSpec& c : Commands()) known.insert(c.flags.begin(), c.flags.end());
  for (const std::string& name : known) {
    if (allowed.count(name)) continue;
    const absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    if (flag != nullptr && flag->CurrentValue() != flag->DefaultValue()) {
      return Usage(absl::StrCat(Dashed(name), " does not apply to '", command.name, "'"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<client::ClientOptions> ClientOptionsFromFlags() {
  client::ClientOptions options;
  options.url = absl::GetFlag(FLAGS_url);
  options.root_ca_file = absl::GetFlag(FLAGS_ca);
  options.client_cert_file = absl::GetFlag(FLAGS_cert);
  options.client_key_file = absl::GetFlag(FLAGS_key);
  options.tls = absl::GetFlag(FLAGS_tls) || !options.root_ca_file.empty() ||
                !options.client_cert_file.empty() || !options.client_key_file.empty();
  if (options.client_cert_file.empty() != options.client_key_file.empty()) {
    return Usage("--cert and --key go together");
  }
  const std::string token = absl::GetFlag(FLAGS_token);
  const std::string token_file = absl::GetFlag(FLAGS_token_file);
  if (!token.empty() && !token_file.empty()) return Usage("give --token or --token-file, not both");
  options.token = token;
  if (!token_file.empty()) {
    OCTET_ASSIGN_OR_RETURN(options.token, ReadToken(token_file));
  }
  options.default_timeout = absl::GetFlag(FLAGS_timeout);
  if (options.default_timeout <= absl::ZeroDuration()) return Usage("--timeout must be positive");
  options.calibration_timeout = absl::GetFlag(FLAGS_calibration_timeout);
  if (options.calibration_timeout <= absl::ZeroDuration()) {
    return Usage("--calibration-timeout must be positive");
  }
  return options;
}

absl::StatusOr<InputSource> InputSourceFromFlags() {
  InputSource source;
  source.input_name = absl::GetFlag(FLAGS_input);
  source.dataset = absl::GetFlag(FLAGS_dataset);
  source.index = absl::GetFlag(FLAGS_index);
  source.batch = absl::GetFlag(FLAGS_batch);
  source.file = absl::GetFlag(FLAGS_file);
  source.shape = absl::GetFlag(FLAGS_shape);
  if (!source.dataset.empty() && !source.file.empty()) {
    return Usage("give --dataset or --file, not both");
  }
  if (source.index < 0) return Usage("--index must be >= 0");
  if (source.batch < 1) return Usage("--batch must be >= 1");
  if (source.file.empty() && !source.shape.empty()) return Usage("--shape needs --file");
  if (!source.file.empty() && source.batch != 1) {
    return Usage("--batch is for --dataset; a --file holds its own batch dimension");
  }
  absl::StatusOr<datasets::Preprocessing> prep =
      datasets::ParsePreprocessing(absl::GetFlag(FLAGS_scale), absl::GetFlag(FLAGS_mean),
                                   absl::GetFlag(FLAGS_std), absl::GetFlag(FLAGS_layout));
  if (!prep.ok()) return Usage(absl::StrCat("preprocessing flags: ", prep.status().message()));
  source.prep = *prep;
  return source;
}

absl::StatusOr<InferOptions> InferOptionsFromFlags(const std::string& model) {
  InferOptions options;
  options.model = {model, absl::GetFlag(FLAGS_model_version)};
  OCTET_ASSIGN_OR_RETURN(options.source, InputSourceFromFlags());
  if (options.source.dataset.empty() && options.source.file.empty()) {
    return Usage("infer needs an input: --dataset FORMAT:PATH [--index N] or --file PATH");
  }
  options.id = absl::GetFlag(FLAGS_id);
  options.top_k = absl::GetFlag(FLAGS_top_k);
  options.json = absl::GetFlag(FLAGS_json);
  if (options.top_k < (options.json ? 0 : 1)) {
    return Usage(options.json ? "--top-k must be >= 0" : "--top-k must be >= 1");
  }
  options.labels_file = absl::GetFlag(FLAGS_labels);
  options.output = absl::GetFlag(FLAGS_output);
  return options;
}

absl::StatusOr<CalibrateOptions> CalibrateOptionsFromFlags(const std::string& model) {
  CalibrateOptions options;
  options.model = {model, absl::GetFlag(FLAGS_model_version)};
  options.input_name = absl::GetFlag(FLAGS_input);
  absl::StatusOr<datasets::Preprocessing> prep =
      datasets::ParsePreprocessing(absl::GetFlag(FLAGS_scale), absl::GetFlag(FLAGS_mean),
                                   absl::GetFlag(FLAGS_std), absl::GetFlag(FLAGS_layout));
  if (!prep.ok()) return Usage(absl::StrCat("preprocessing flags: ", prep.status().message()));
  options.prep = *prep;
  options.dataset = absl::GetFlag(FLAGS_dataset);
  options.samples = absl::GetFlag(FLAGS_samples);
  options.validation_dataset = absl::GetFlag(FLAGS_validation_dataset);
  options.validation_samples = absl::GetFlag(FLAGS_validation_samples);
  options.chunk = absl::GetFlag(FLAGS_chunk);
  options.json = absl::GetFlag(FLAGS_json);
  octet::v1::CalibrationSpec& spec = options.spec;
  spec.set_server_dataset(absl::GetFlag(FLAGS_server_dataset));
  spec.set_validation_dataset(absl::GetFlag(FLAGS_server_validation_dataset));
  if (options.dataset.empty() && spec.server_dataset().empty()) {
    return Usage(
        "calibrate needs calibration data: --dataset FORMAT:PATH (streamed) or "
        "--server-dataset FORMAT:PATH (on the server)");
  }
  if (options.samples < 0) return Usage("--samples must be >= 0");
  if (options.validation_samples < 0) return Usage("--validation-samples must be >= 0");
  if (options.validation_samples > 0 && options.validation_dataset.empty()) {
    return Usage("--validation-samples needs --validation-dataset");
  }
  if (options.chunk < 1) return Usage("--chunk must be >= 1");
  if (options.samples > std::numeric_limits<int32_t>::max()) return Usage("--samples is too large");

  const std::string method = absl::GetFlag(FLAGS_method);
  if (method == "minmax") {
    spec.set_method(octet::v1::MINMAX);
  } else if (method == "percentile") {
    spec.set_method(octet::v1::PERCENTILE);
  } else if (method == "entropy") {
    spec.set_method(octet::v1::ENTROPY);
  } else if (method == "mse") {
    spec.set_method(octet::v1::MSE);
  } else if (!method.empty()) {
    return Usage(
        absl::StrCat("--method: '", method, "' is not minmax, percentile, entropy or mse"));
  }
  const double percentile = absl::GetFlag(FLAGS_percentile);
  if (percentile != 0) {
    if (!(percentile > 0 && percentile <= 100)) return Usage("--percentile must be in (0, 100]");
    if (!method.empty() && method != "percentile") {
      return Usage(absl::StrCat("--percentile is for --method=percentile, not ", method));
    }
    spec.set_method(octet::v1::PERCENTILE);
    spec.set_percentile(percentile);
  }
  if (const std::optional<double> tolerance = absl::GetFlag(FLAGS_tolerance)) {
    if (!(*tolerance >= 0 && *tolerance <= 100)) return Usage("--tolerance must be in [0, 100]");
    spec.set_tolerance(*tolerance);
  }
  const std::string mode = absl::GetFlag(FLAGS_tolerance_mode);
  if (mode == "absolute") {
    spec.set_tolerance_mode(octet::v1::ABSOLUTE);
  } else if (mode == "relative") {
    spec.set_tolerance_mode(octet::v1::RELATIVE);
  } else if (!mode.empty()) {
    return Usage(absl::StrCat("--tolerance-mode: '", mode, "' is not absolute or relative"));
  }
  const std::string precision = absl::GetFlag(FLAGS_precision);
  if (precision == "int8") {
    spec.set_precision(octet::v1::PRECISION_INT8);
  } else if (precision == "mixed") {
    spec.set_precision(octet::v1::PRECISION_MIXED);
  } else if (!precision.empty()) {
    return Usage(absl::StrCat("--precision: '", precision, "' is not int8 or mixed"));
  }
  spec.set_per_tensor_weights(absl::GetFlag(FLAGS_per_tensor_weights));
  return options;
}

absl::StatusOr<PerfOptions> PerfOptionsFromFlags(const std::string& model) {
  PerfOptions options;
  options.model = {model, absl::GetFlag(FLAGS_model_version)};
  OCTET_ASSIGN_OR_RETURN(options.source, InputSourceFromFlags());
  const std::string rate = absl::GetFlag(FLAGS_rate);
  const absl::CommandLineFlag* concurrency_flag = absl::FindCommandLineFlag("concurrency");
  if (!rate.empty()) {
    if (concurrency_flag->CurrentValue() != concurrency_flag->DefaultValue()) {
      return Usage("give --concurrency or --rate, not both");
    }
    OCTET_ASSIGN_OR_RETURN(options.rates, ParsePositiveNumbers(rate, "--rate"));
    options.concurrency.clear();
  } else {
    OCTET_ASSIGN_OR_RETURN(options.concurrency,
                           ParsePositiveInts(absl::GetFlag(FLAGS_concurrency), "--concurrency"));
  }
  options.max_outstanding = absl::GetFlag(FLAGS_max_outstanding);
  if (options.max_outstanding < 1) return Usage("--max-outstanding must be >= 1");
  options.duration = absl::GetFlag(FLAGS_duration);
  options.requests = absl::GetFlag(FLAGS_requests);
  options.warmup = absl::GetFlag(FLAGS_warmup);
  if (options.requests < 0) return Usage("--requests must be >= 0");
  if (options.requests == 0 && options.duration <= absl::ZeroDuration()) {
    return Usage("--duration must be positive");
  }
  if (options.warmup < absl::ZeroDuration()) return Usage("--warmup must be >= 0");
  options.json = absl::GetFlag(FLAGS_json);
  options.csv_path = absl::GetFlag(FLAGS_csv);
  options.plot_path = absl::GetFlag(FLAGS_plot);
  if (options.json && options.csv_path == "-") {
    return Usage("--json and --csv=- would both write to stdout");
  }
  return options;
}

}  // namespace octet::cli
