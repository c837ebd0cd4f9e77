// The `octet` commands, each a function of a connected Client, its options and a Console, so that
// they run the same from main() and from tests (against FakeInferenceServer).
//
//   Console console{std::cout, std::cerr, isatty(STDERR_FILENO) != 0};
//   absl::Status s = RunInfer(*client, options, console);  // prints; returns why it failed
//
// Options come from the command line through flags.h; every field has the flag's default.
// A command writes its results to console.out and progress to console.err, and returns a status
// whose message names what failed; it prints no error itself.
//
// Threads: a command runs on the calling thread (perf and calibrate also on gRPC's); commands
// are not meant to run concurrently on one Console.
#ifndef OCTET_CLIENT_CLI_COMMANDS_H_
#define OCTET_CLIENT_CLI_COMMANDS_H_

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "client/octet_client.h"
#include "datasets/preprocessing.h"
#include "octet/v1/calibration.pb.h"

namespace octet::cli {

struct Console {
  std::ostream& out;
  std::ostream& err;
  // Whether `err` is a terminal (progress bars redraw in place there).
  bool err_is_terminal = false;
};

// The model a command is about.
struct ModelRef {
  std::string name;
  std::string version;  // "" : the server's choice
};

// Where the input tensor of infer and perf comes from: a data set, a file, or (perf only)
// synthetic data when neither is given.
struct InputSource {
  std::string input_name;  // "" : the model's only input
  std::string dataset;     // "idx:..." or "cifar10:..."
  int64_t index = 0;       // first image of the batch
  int64_t batch = 1;
  std::string file;   // .npy, or raw with `shape`
  std::string shape;  // "1,3,32,32"
  datasets::Preprocessing prep;
};

absl::Status RunHealth(const client::Client& client, const std::string& model, bool json,
                       Console& console);
absl::Status RunModels(const client::Client& client, bool ready_only, bool json, Console& console);
absl::Status RunMetadata(const client::Client& client, const ModelRef& model, bool json,
                         Console& console);
absl::Status RunLoadModel(const client::Client& client, const std::string& model, Console& console);
absl::Status RunUnloadModel(const client::Client& client, const std::string& model,
                            Console& console);
absl::Status RunStats(const client::Client& client, const ModelRef& model, bool json,
                      Console& console);
absl::Status RunReport(const client::Client& client, const ModelRef& model, bool json,
                       Console& console);

struct InferOptions {
  ModelRef model;
  InputSource source;
  std::string id;
  int top_k = 5;
  std::string labels_file;  // class names, one per line
  std::string output;       // "" : every output is returned, top-k of the first
  bool json = false;
};
absl::Status RunInfer(const client::Client& client, const InferOptions& options, Console& console);

struct CalibrateOptions {
  ModelRef model;
  std::string input_name;
  datasets::Preprocessing prep;
  // Streamed data: `samples` (0: kDefaultCalibrationSamples) images evenly spaced through
  // `dataset`, and `validation_samples` (0: all) through `validation_dataset`.
  std::string dataset;
  int64_t samples = 0;
  std::string validation_dataset;
  int64_t validation_samples = 0;
  // Samples per CalibrationSample message.
  int chunk = 32;
  // method, percentile, tolerance, tolerance_mode, precision, per_tensor_weights, server_dataset
  // and (server-side) validation_dataset; model_name, source_version, num_samples and input_name
  // are filled in by RunCalibrate.
  octet::v1::CalibrationSpec spec;
  bool json = false;
};
inline constexpr int64_t kDefaultCalibrationSamples = 500;
absl::Status RunCalibrate(const client::Client& client, const CalibrateOptions& options,
                          Console& console);

struct PerfOptions {
  ModelRef model;
  InputSource source;
  // One step per concurrency, or per rate when `rates` is not empty.
  std::vector<int> concurrency = {1};
  std::vector<double> rates;
  int max_outstanding = 1000;
  // Each step runs `warmup` (discarded), then `duration`, or `requests` requests when > 0.
  absl::Duration warmup = absl::Seconds(1);
  absl::Duration duration = absl::Seconds(5);
  int64_t requests = 0;
  bool json = false;
  std::string csv_path;   // "-" : stdout
  std::string plot_path;  // PNG drawn by gnuplot
};
absl::Status RunPerf(const client::Client& client, const PerfOptions& options, Console& console);

}  // namespace octet::cli

#endif  // OCTET_CLIENT_CLI_COMMANDS_H_
