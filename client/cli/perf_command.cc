// perf: a load generator. For each step (a concurrency, or a request rate) it warms up, then
// measures client-side latency exactly (every request recorded) and the server's queue and compute
// time (the ModelStatistics delta over the step), and prints a table, JSON, CSV and a plot.
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "client/cli/commands.h"
#include "client/cli/input_builder.h"
#include "client/cli/load_generator.h"
#include "client/cli/perf_report.h"
#include "common/status_macros.h"

extern char** environ;

namespace octet::cli {
namespace {

// The server's cumulative times for the model, summed over the versions it reports.
struct ServerTotals {
  inference::StatisticDuration queue, compute_input, compute_infer, compute_output;
};

void Add(const inference::StatisticDuration& from, inference::StatisticDuration* to) {
  to->set_count(to->count() + from.count());
  to->set_ns(to->ns() + from.ns());
}

absl::StatusOr<ServerTotals> FetchServerTotals(const client::Client& client,
                                               const ModelRef& model) {
  OCTET_ASSIGN_OR_RETURN(inference::ModelStatisticsResponse stats,
                         client.ModelStatistics(model.name, model.version));
  ServerTotals totals;
  for (const auto& m : stats.model_stats()) {
    if (m.name() != model.name) continue;
    Add(m.inference_stats().queue(), &totals.queue);
    Add(m.inference_stats().compute_input(), &totals.compute_input);
    Add(m.inference_stats().compute_infer(), &totals.compute_infer);
    Add(m.inference_stats().compute_output(), &totals.compute_output);
  }
  return totals;
}

// Mean microseconds over what happened between two snapshots; nullopt when nothing did.
std::optional<double> MeanUs(const inference::StatisticDuration& before,
                             const inference::StatisticDuration& after) {
  if (after.count() <= before.count()) return std::nullopt;
  return static_cast<double>(after.ns() - before.ns()) / (after.count() - before.count()) / 1000.0;
}

void SetServerTimes(const absl::StatusOr<ServerTotals>& before,
                    const absl::StatusOr<ServerTotals>& after, PerfStep* step) {
  if (!before.ok() || !after.ok()) return;
  step->server_queue_us = MeanUs(before->queue, after->queue);
  std::optional<double> compute;
  for (auto [b, a] : {std::make_pair(&before->compute_input, &after->compute_input),
                      std::make_pair(&before->compute_infer, &after->compute_infer),
                      std::make_pair(&before->compute_output, &after->compute_output)}) {
    if (std::optional<double> part = MeanUs(*b, *a)) compute = compute.value_or(0) + *part;
  }
  step->server_compute_us = compute;
}

PerfStep MakeStep(const LoadShape& shape, LoadResult result) {
  PerfStep step;
  step.rate = shape.rate;
  step.concurrency = shape.rate > 0 ? 0 : shape.concurrency;
  step.completed = static_cast<int64_t>(result.latencies.size());
  step.failed = result.failed();
  for (const auto& [code, count] : result.errors) {
    step.errors_by_code[absl::StatusCodeToString(code)] = count;
  }
  if (!result.first_error.ok()) step.first_error = std::string(result.first_error.message());
  step.wall_seconds = absl::ToDoubleSeconds(result.wall);
  step.throughput = step.wall_seconds > 0 ? step.completed / step.wall_seconds : 0;
  step.latency = SummarizeLatencies(std::move(result.latencies));
  return step;
}

absl::StatusOr<std::string> FindOnPath(const std::string& program) {
  const char* path = std::getenv("PATH");
  for (absl::string_view dir : absl::StrSplit(path ? path : "/usr/bin:/bin", ':')) {
    const std::string candidate = absl::StrCat(dir.empty() ? "." : dir, "/", program);
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "--plot needs ", program, ", which is not installed (Debian: apt-get install gnuplot-nox)"));
}

// A new empty file named like `pattern` (ending in XXXXXX) in the temporary directory.
absl::StatusOr<std::string> TempFile(const std::string& stem) {
  const char* dir = std::getenv("TMPDIR");
  std::string path = absl::StrCat(dir && *dir ? dir : "/tmp", "/", stem, "-XXXXXX");
  const int fd = mkstemp(path.data());
  if (fd < 0) return absl::InternalError(absl::StrCat("cannot create a temporary file ", path));
  close(fd);
  return path;
}

absl::Status WriteFile(const std::string& path, const std::string& contents, const char* what) {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file << contents;
  file.close();
  if (!file) return absl::InternalError(absl::StrCat("cannot write ", what, " '", path, "'"));
  return absl::OkStatus();
}

absl::Status DrawPlot(const std::string& gnuplot, const PerfRun& run, const std::string& png) {
  OCTET_ASSIGN_OR_RETURN(const std::string csv, TempFile("octet-perf-csv"));
  OCTET_ASSIGN_OR_RETURN(const std::string script, TempFile("octet-perf-gp"));
  OCTET_ASSIGN_OR_RETURN(const std::string log, TempFile("octet-perf-log"));
  absl::Status status = WriteFile(csv, PerfCsv(run), "plot data");
  if (status.ok()) status = WriteFile(script, GnuplotScript(run, csv, png), "plot script");
  if (status.ok()) {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, log.c_str(), O_WRONLY, 0);
    std::vector<std::string> args = {gnuplot, script};
    char* argv[] = {args[0].data(), args[1].data(), nullptr};
    pid_t pid = 0;
    int wait_status = 0;
    if (posix_spawn(&pid, gnuplot.c_str(), &actions, nullptr, argv, environ) != 0 ||
        waitpid(pid, &wait_status, 0) != pid || !WIFEXITED(wait_status) ||
        WEXITSTATUS(wait_status) != 0) {
      std::ifstream err(log);
      std::string first;
      std::getline(err, first);
      while (first.empty() && std::getline(err, first)) {
      }
      status = absl::InternalError(absl::StrCat("gnuplot could not draw '", png, "'",
                                                first.empty() ? "" : absl::StrCat(": ", first)));
    }
    posix_spawn_file_actions_destroy(&actions);
  }
  std::remove(csv.c_str());
  std::remove(script.c_str());
  std::remove(log.c_str());
  return status;
}

absl::StatusOr<client::InferInput> BuildPerfInput(const TensorMetadata& input,
                                                  const InputSource& source) {
  if (!source.file.empty()) return InputFromFile(input, source.file, source.shape);
  if (source.dataset.empty()) return SyntheticInput(input, source.batch);
  OCTET_ASSIGN_OR_RETURN(datasets::LabelledImages images,
                         LoadImageRange(source.dataset, source.index, source.batch));
  std::vector<int64_t> indices;
  for (int64_t i = 0; i < source.batch; ++i) indices.push_back(source.index + i);
  return InputFromImages(input, images, indices, source.prep);
}

}  // namespace

absl::Status RunPerf(const client::Client& client, const PerfOptions& options, Console& console) {
  std::string gnuplot;
  if (!options.plot_path.empty()) {
    OCTET_ASSIGN_OR_RETURN(gnuplot, FindOnPath("gnuplot"));
  }
  OCTET_ASSIGN_OR_RETURN(inference::ModelMetadataResponse metadata,
                         client.ModelMetadata(options.model.name, options.model.version));
  OCTET_ASSIGN_OR_RETURN(TensorMetadata input, SelectInput(metadata, options.source.input_name));
  client::InferRequest request;
  request.model = options.model.name;
  request.version = options.model.version;
  OCTET_ASSIGN_OR_RETURN(client::InferInput tensor, BuildPerfInput(input, options.source));
  PerfRun run{
      options.model.name, options.model.version, tensor.shape.empty() ? 1 : tensor.shape[0], {}};
  request.inputs.push_back(std::move(tensor));
  // One request first: a wrong input or an unknown model fails here, once, with the server's
  // message, instead of as thousands of counted errors.
  if (absl::Status first = client.Infer(request).status(); !first.ok()) {
    return absl::Status(first.code(), absl::StrCat("first request failed: ", first.message()));
  }

  const AsyncRequest send = [&client, &request](std::function<void(const absl::Status&)> done) {
    client.AsyncInfer(request, [done = std::move(done)](absl::StatusOr<client::InferResult> r) {
      done(r.status());
    });
  };
  std::vector<LoadShape> shapes;
  for (double rate : options.rates) {
    shapes.push_back({1, rate, options.max_outstanding, options.duration, options.requests});
  }
  for (int c : options.concurrency) {
    shapes.push_back({c, 0, options.max_outstanding, options.duration, options.requests});
  }
  for (const LoadShape& shape : shapes) {
    const std::string load = shape.rate > 0 ? absl::StrFormat("rate %g/s", shape.rate)
                                            : absl::StrCat("concurrency ", shape.concurrency);
    if (options.warmup > absl::ZeroDuration()) {
      LoadShape warmup = shape;
      warmup.duration = options.warmup;
      warmup.requests = 0;
      GenerateLoad(send, warmup);
    }
    const absl::StatusOr<ServerTotals> before = FetchServerTotals(client, options.model);
    LoadResult result = GenerateLoad(send, shape);
    const absl::StatusOr<ServerTotals> after = FetchServerTotals(client, options.model);
    PerfStep step = MakeStep(shape, std::move(result));
    SetServerTimes(before, after, &step);
    console.err << absl::StrFormat("perf: %s: %d requests, %d errors, %.1f infer/s, p99 %.3f ms\n",
                                   load, step.completed, step.failed, step.throughput,
                                   absl::ToDoubleMilliseconds(step.latency.p99));
    run.steps.push_back(std::move(step));
  }

  console.out << (options.json ? PerfJson(run) : PerfTable(run));
  if (options.csv_path == "-") {
    console.out << PerfCsv(run);
  } else if (!options.csv_path.empty()) {
    OCTET_RETURN_IF_ERROR(WriteFile(options.csv_path, PerfCsv(run), "--csv file"));
  }
  if (!options.plot_path.empty()) OCTET_RETURN_IF_ERROR(DrawPlot(gnuplot, run, options.plot_path));
  for (const PerfStep& step : run.steps) {
    if (step.completed == 0) {
      return absl::UnavailableError(
          absl::StrCat("every request failed at ",
                       step.rate > 0 ? absl::StrFormat("rate %g/s", step.rate)
                                     : absl::StrCat("concurrency ", step.concurrency),
                       ": ", step.first_error));
    }
  }
  return absl::OkStatus();
}

}  // namespace octet::cli
