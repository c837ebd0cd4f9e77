// octet-bench: evaluates and times ONNX models on the Octet engine, locally (no server), in
// the spirit of OpenVINO's benchmark_app.
//
//   octet-bench eval  --model M.onnx --dataset cifar10:test.bin [--batch 64] [--json]
//   octet-bench speed --model M.onnx --batch 1,16,64 --threads 1,2 [--json]
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "bench/evaluation.h"
#include "common/status_macros.h"
#include "datasets/dataset.h"
#include "datasets/preprocessing.h"
#include "engine/cpu_info.h"
#include "engine/model.h"
#include "engine/session.h"

ABSL_FLAG(std::string, model, "", "ONNX model file");
ABSL_FLAG(std::string, dataset, "",
          "labelled data set: idx:IMAGES[:LABELS] or cifar10:PATH (eval; optional for speed, "
          "which otherwise feeds random pixels)");
ABSL_FLAG(std::string, scale, "1", "preprocessing: pixel multiplier, x = (p*scale - mean)/std");
ABSL_FLAG(std::string, mean, "", "preprocessing: per-channel means, e.g. 0.4914,0.4822,0.4465");
ABSL_FLAG(std::string, std, "", "preprocessing: per-channel standard deviations");
ABSL_FLAG(std::string, layout, "NCHW", "model input layout: NCHW or NHWC");
ABSL_FLAG(std::string, batch, "", "batch size(s), comma-separated (eval: 64; speed: 1,16,64)");
ABSL_FLAG(std::string, threads, "", "OpenMP threads, comma-separated (default: all cores)");
ABSL_FLAG(int64_t, limit, -1, "evaluate only the first N samples");
ABSL_FLAG(int, warmup, 3, "speed: warm-up runs");
ABSL_FLAG(int, runs, 7, "speed: timed runs (median, min and max are reported)");
ABSL_FLAG(int, min_run_ms, 300, "speed: each timed run repeats inference for this long");
ABSL_FLAG(bool, json, false, "print one JSON object on stdout");

namespace octet::bench {
namespace {

absl::StatusOr<std::vector<int64_t>> ParseIntList(const std::string& text,
                                                  std::vector<int64_t> fallback, const char* what) {
  if (text.empty()) return fallback;
  std::vector<int64_t> values;
  for (absl::string_view part : absl::StrSplit(text, ',')) {
    int64_t v = 0;
    if (!absl::SimpleAtoi(part, &v) || v < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("--", what, ": '", part, "' is not a non-negative integer"));
    }
    values.push_back(v);
  }
  return values;
}

// Peak resident memory of this process, from /proc (0 when unavailable).
double PeakRssMiB() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) {
      int64_t kib = 0;
      if (absl::SimpleAtoi(absl::StripAsciiWhitespace(line.substr(6, line.size() - 9)), &kib)) {
        return kib / 1024.0;
      }
    }
  }
  return 0;
}

std::string JsonString(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

absl::StatusOr<std::shared_ptr<const Model>> LoadModel() {
  const std::string path = absl::GetFlag(FLAGS_model);
  if (path.empty()) return absl::InvalidArgumentError("--model is required");
  return Model::Load(path);
}

absl::StatusOr<datasets::Preprocessing> Prep() {
  return datasets::ParsePreprocessing(absl::GetFlag(FLAGS_scale), absl::GetFlag(FLAGS_mean),
                                      absl::GetFlag(FLAGS_std), absl::GetFlag(FLAGS_layout));
}

absl::Status RunEval() {
  OCTET_ASSIGN_OR_RETURN(std::shared_ptr<const Model> model, LoadModel());
  OCTET_ASSIGN_OR_RETURN(datasets::Preprocessing prep, Prep());
  const std::string spec = absl::GetFlag(FLAGS_dataset);
  if (spec.empty()) return absl::InvalidArgumentError("eval needs --dataset");
  OCTET_ASSIGN_OR_RETURN(datasets::LabelledImages images,
                         datasets::LoadDataset(spec, absl::GetFlag(FLAGS_limit)));
  OCTET_ASSIGN_OR_RETURN(std::vector<int64_t> batches,
                         ParseIntList(absl::GetFlag(FLAGS_batch), {64}, "batch"));
  OCTET_ASSIGN_OR_RETURN(std::vector<int64_t> threads,
                         ParseIntList(absl::GetFlag(FLAGS_threads), {0}, "threads"));
  SessionOptions session_options;
  session_options.threads = static_cast<int>(threads[0]);
  OCTET_ASSIGN_OR_RETURN(std::unique_ptr<Session> session, Session::Create(model, session_options));
  EvalOptions options;
  options.batch_size = batches[0];
  OCTET_ASSIGN_OR_RETURN(EvalResult r, Evaluate(*session, images, prep, options));
  const double seconds = absl::ToDoubleSeconds(r.elapsed);
  if (absl::GetFlag(FLAGS_json)) {
    std::cout << absl::StrFormat(
        "{\"model\": %s, \"dataset\": %s, \"precision\": \"fp32\", \"samples\": %d, "
        "\"correct\": %d, \"accuracy\": %.6f, \"batch\": %d, \"threads\": %d, "
        "\"seconds\": %.3f, \"throughput_per_s\": %.1f, \"weight_bytes\": %d, \"isa\": %s}\n",
        JsonString(absl::GetFlag(FLAGS_model)), JsonString(spec), r.samples, r.correct,
        r.accuracy(), options.batch_size, session->threads(), seconds, r.samples / seconds,
        model->weight_bytes(), JsonString(CpuIsaName()));
  } else {
    std::cout << absl::StrFormat(
        "model      %s\ndataset    %s (%d images, %dx%dx%d)\nprecision  fp32 (isa %s)\n"
        "accuracy   %.2f%% (%d/%d)\ntime       %.2f s (%.0f images/s, batch %d, %d threads)\n",
        absl::GetFlag(FLAGS_model), spec, images.count, images.channels, images.height,
        images.width, CpuIsaName(), 100 * r.accuracy(), r.correct, r.samples, seconds,
        r.samples / seconds, options.batch_size, session->threads());
  }
  return absl::OkStatus();
}

// One sample to time with: a real image when --dataset is given, else random pixels.
absl::StatusOr<Tensor> SpeedSample(const Model& model) {
  if (model.inputs().size() != 1) {
    return absl::InvalidArgumentError("speed measures models with exactly one input");
  }
  Shape shape = model.inputs()[0].shape;
  for (int64_t& d : shape) d = d < 0 ? 1 : d;
  shape[0] = 1;
  Tensor sample(DataType::kFloat32, shape);
  const std::string spec = absl::GetFlag(FLAGS_dataset);
  if (!spec.empty()) {
    OCTET_ASSIGN_OR_RETURN(datasets::Preprocessing prep, Prep());
    OCTET_ASSIGN_OR_RETURN(datasets::LabelledImages images, datasets::LoadDataset(spec, 1));
    OCTET_RETURN_IF_ERROR(datasets::FillBatch(
        images, 0, 1, prep, absl::MakeSpan(sample.data<float>(), sample.num_elements())));
    return sample;
  }
  uint32_t state = 12345;  // fixed seed: the same input every run
  for (int64_t i = 0; i < sample.num_elements(); ++i) {
    state = state * 1664525u + 1013904223u;
    sample.data<float>()[i] = static_cast<float>(state >> 24);
  }
  return sample;
}

absl::Status RunSpeed() {
  OCTET_ASSIGN_OR_RETURN(std::shared_ptr<const Model> model, LoadModel());
  OCTET_ASSIGN_OR_RETURN(std::vector<int64_t> batches,
                         ParseIntList(absl::GetFlag(FLAGS_batch), {1, 16, 64}, "batch"));
  OCTET_ASSIGN_OR_RETURN(std::vector<int64_t> threads,
                         ParseIntList(absl::GetFlag(FLAGS_threads), {0}, "threads"));
  OCTET_ASSIGN_OR_RETURN(Tensor sample, SpeedSample(*model));
  SpeedOptions options;
  options.warmup_runs = absl::GetFlag(FLAGS_warmup);
  options.timed_runs = absl::GetFlag(FLAGS_runs);
  options.min_run_time = absl::Milliseconds(absl::GetFlag(FLAGS_min_run_ms));
  const bool json = absl::GetFlag(FLAGS_json);
  std::vector<std::string> rows;
  if (!json) {
    std::cout << absl::StrFormat("model %s, fp32, isa %s\n%6s %8s %14s %12s %10s %10s\n",
                                 absl::GetFlag(FLAGS_model), CpuIsaName(), "batch", "threads",
                                 "images/s", "median ms", "min ms", "max ms");
  }
  for (int64_t t : threads) {
    SessionOptions session_options;
    session_options.threads = static_cast<int>(t);
    OCTET_ASSIGN_OR_RETURN(std::unique_ptr<Session> session,
                           Session::Create(model, session_options));
    for (int64_t batch : batches) {
      options.batch_size = batch;
      OCTET_ASSIGN_OR_RETURN(SpeedResult r, MeasureSpeed(*session, sample, options));
      if (json) {
        rows.push_back(absl::StrFormat(
            "{\"batch\": %d, \"threads\": %d, \"throughput_per_s\": %.1f, "
            "\"latency_ms_median\": %.4f, \"latency_ms_min\": %.4f, \"latency_ms_max\": %.4f, "
            "\"inferences\": %d}",
            r.batch_size, r.threads, r.throughput_per_s, r.latency_ms_median, r.latency_ms_min,
            r.latency_ms_max, r.inferences));
      } else {
        std::cout << absl::StrFormat("%6d %8d %14.1f %12.4f %10.4f %10.4f\n", r.batch_size,
                                     r.threads, r.throughput_per_s, r.latency_ms_median,
                                     r.latency_ms_min, r.latency_ms_max);
      }
    }
  }
  if (json) {
    std::cout << absl::StrFormat(
        "{\"model\": %s, \"precision\": \"fp32\", \"isa\": %s, \"weight_bytes\": %d, "
        "\"packed_weight_bytes\": %d, \"peak_rss_mib\": %.1f, \"results\": [%s]}\n",
        JsonString(absl::GetFlag(FLAGS_model)), JsonString(CpuIsaName()), model->weight_bytes(),
        model->packed_weight_bytes(), PeakRssMiB(), absl::StrJoin(rows, ", "));
  } else {
    std::cout << absl::StrFormat("weights %d bytes (packed %d), peak RSS %.1f MiB\n",
                                 model->weight_bytes(), model->packed_weight_bytes(), PeakRssMiB());
  }
  return absl::OkStatus();
}

}  // namespace
}  // namespace octet::bench

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "octet-bench eval|speed --model MODEL.onnx [flags]\n"
      "  eval:  top-1 accuracy on a labelled data set (--dataset)\n"
      "  speed: throughput and latency per batch size and thread count");
  std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  if (args.size() != 2) {
    std::cerr << "usage: octet-bench eval|speed --model MODEL.onnx [flags] (--help for flags)\n";
    return 2;
  }
  const std::string command = args[1];
  absl::Status status;
  if (command == "eval") {
    status = octet::bench::RunEval();
  } else if (command == "speed") {
    status = octet::bench::RunSpeed();
  } else {
    std::cerr << "octet-bench: unknown command '" << command << "' (expected eval or speed)\n";
    return 2;
  }
  if (!status.ok()) {
    std::cerr << "octet-bench: " << status.message() << "\n";
    return 1;
  }
  return 0;
}
