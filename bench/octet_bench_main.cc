// octet-bench: evaluates and times ONNX models on the Octet engine, locally (no server), in
// the spirit of OpenVINO's benchmark_app.
//
//   octet-bench eval  --model M.onnx --dataset cifar10:test.bin [--batch 64] [--json]
//   octet-bench speed --model M.onnx --batch 1,16,64 --threads 1,2 [--json]
#include <unistd.h>

#include <algorithm>
#include <cmath>
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
#include "bench/quantized_model.h"
#include "common/dashed_flags.h"
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
ABSL_FLAG(std::string, precision, "fp32",
          "fp32, int8 (every eligible layer) or mixed (INT8 with layers returned to FP32 until "
          "the accuracy drop is within --tolerance)");
ABSL_FLAG(std::string, calibration_data, "", "data set the INT8 ranges are calibrated on");
ABSL_FLAG(std::string, calibration_method, "percentile", "minmax, percentile, entropy or mse");
ABSL_FLAG(double, percentile, 99.99, "percentile for --calibration-method=percentile");
ABSL_FLAG(int64_t, calibration_samples, 500,
          "calibration images, taken evenly spaced through --calibration-data");
ABSL_FLAG(std::string, calibration_table, "", "load this calibration table instead");
ABSL_FLAG(std::string, save_calibration_table, "", "write the calibration table here");
ABSL_FLAG(double, tolerance, 0.5, "mixed: allowed top-1 drop (points, or percent if relative)");
ABSL_FLAG(std::string, tolerance_mode, "absolute", "absolute or relative");
ABSL_FLAG(bool, per_tensor_weights, false, "one weight scale per layer (for comparison)");
ABSL_FLAG(std::string, weight_scheme, "auto",
          "auto (full8 with VNNI, pair_limited without), full8, seven_bit or pair_limited");

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

absl::StatusOr<QuantizeRequest> QuantizeRequestFromFlags(int threads) {
  QuantizeRequest request;
  request.precision = absl::GetFlag(FLAGS_precision);
  request.model_path = absl::GetFlag(FLAGS_model);
  request.calibration_data = absl::GetFlag(FLAGS_calibration_data);
  request.calibration_table = absl::GetFlag(FLAGS_calibration_table);
  request.save_calibration_table = absl::GetFlag(FLAGS_save_calibration_table);
  request.method = absl::GetFlag(FLAGS_calibration_method);
  request.percentile = absl::GetFlag(FLAGS_percentile);
  request.calibration_samples = absl::GetFlag(FLAGS_calibration_samples);
  request.tolerance = absl::GetFlag(FLAGS_tolerance);
  const std::string mode = absl::GetFlag(FLAGS_tolerance_mode);
  if (mode != "absolute" && mode != "relative") {
    return absl::InvalidArgumentError("--tolerance-mode must be absolute or relative");
  }
  request.tolerance_mode = mode == "absolute" ? calibration::ToleranceMode::kAbsolute
                                              : calibration::ToleranceMode::kRelative;
  request.per_tensor_weights = absl::GetFlag(FLAGS_per_tensor_weights);
  request.weight_scheme = absl::GetFlag(FLAGS_weight_scheme);
  request.threads = threads;
  return request;
}

std::string PrecisionName(Precision p) { return p == Precision::kInt8 ? "int8" : "fp32"; }

// The INT8 part of eval's output: accuracy against FP32, weights, plan and per-layer errors.
void PrintQuantizationReport(const QuantizeResult& q, bool json, std::string* json_fields) {
  const calibration::PrecisionReport& r = *q.report;
  int int8_layers = 0;
  std::vector<std::string> fp32_layers, layer_json, plan_json;
  for (const auto& layer : r.layers) {
    if (layer.precision == Precision::kInt8) {
      ++int8_layers;
    } else {
      fp32_layers.push_back(layer.node);
    }
    layer_json.push_back(absl::StrFormat(
        "{\"node\": %s, \"op\": %s, \"precision\": \"%s\", \"sqnr_db\": %.2f, "
        "\"sensitivity_db\": %s, \"saturating_pairs_full8\": %d}",
        JsonString(layer.node), JsonString(layer.op_type), PrecisionName(layer.precision),
        layer.sqnr_db,
        std::isnan(layer.sensitivity_db) ? "null" : absl::StrFormat("%.2f", layer.sensitivity_db),
        layer.saturating_pairs_full8));
    plan_json.push_back(
        absl::StrFormat("%s: \"%s\"", JsonString(layer.node), PrecisionName(layer.precision)));
  }
  std::vector<std::string> fallback_json;
  for (const std::string& f : r.fallback) fallback_json.push_back(JsonString(f));
  const double ratio = r.weight_bytes_fp32 ? 100.0 * r.weight_bytes / r.weight_bytes_fp32 : 0;
  if (json) {
    *json_fields = absl::StrFormat(
        ", \"fp32_accuracy\": %.6f, \"int8_accuracy\": %.6f, \"agreement\": %.6f, "
        "\"tolerance_met\": %s, \"calibration_method\": %s, \"calibration_samples\": %d, "
        "\"calibration_seconds\": %.3f, \"planning_seconds\": %.3f, "
        "\"weight_bytes_fp32\": %d, \"weight_scheme\": %s, \"int8_layers\": %d, "
        "\"fp32_layers\": %d, \"fallback\": [%s], \"plan\": {%s}, \"layers\": [%s]",
        r.fp32_accuracy / 100, r.int8_accuracy / 100, r.agreement / 100,
        r.tolerance_met ? "true" : "false",
        JsonString(q.table.method.method == calibration::CalibrationMethod::kPercentile
                       ? absl::StrCat("percentile ", q.table.method.percentile)
                       : std::string(calibration::CalibrationMethodName(q.table.method.method))),
        q.table.sample_count, q.calibration_seconds, absl::ToDoubleSeconds(r.elapsed),
        r.weight_bytes_fp32, JsonString(r.weight_scheme), int8_layers,
        static_cast<int>(fp32_layers.size()), absl::StrJoin(fallback_json, ", "),
        absl::StrJoin(plan_json, ", "), absl::StrJoin(layer_json, ", "));
    return;
  }
  std::cout << absl::StrFormat(
      "calibrated %s on %d samples in %.2f s; plan chosen in %.1f s\n"
      "fp32       %.2f%%   all-int8 %.2f%%   final %.2f%% (drop %.2f points, tolerance %s)\n"
      "agreement  %.2f%% of top-1 predictions equal FP32's\n"
      "weights    %d bytes vs %d FP32 (%.1f%%), scheme %s\n"
      "plan       %d of %zu layers INT8%s%s\n",
      calibration::CalibrationMethodName(q.table.method.method), q.table.sample_count,
      q.calibration_seconds, absl::ToDoubleSeconds(r.elapsed), r.fp32_accuracy, r.int8_accuracy,
      r.accuracy, r.fp32_accuracy - r.accuracy, r.tolerance_met ? "met" : "NOT met", r.agreement,
      r.weight_bytes, r.weight_bytes_fp32, ratio, r.weight_scheme, int8_layers, r.layers.size(),
      fp32_layers.empty() ? "" : "; FP32: ", absl::StrJoin(fp32_layers, ", "));
  std::cout << absl::StrFormat("  %-40s %-6s %-5s %9s %15s\n", "layer", "op", "prec", "SQNR dB",
                               "sensitivity dB");
  for (const auto& layer : r.layers) {
    std::cout << absl::StrFormat(
        "  %-40s %-6s %-5s %9.1f %15s\n", layer.node, layer.op_type, PrecisionName(layer.precision),
        layer.sqnr_db,
        std::isnan(layer.sensitivity_db) ? "-" : absl::StrFormat("%.1f", layer.sensitivity_db));
  }
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
  const int64_t fp32_weight_bytes = model->weight_bytes();
  const std::string precision = absl::GetFlag(FLAGS_precision);
  std::string int8_json;
  std::optional<QuantizeResult> quantized;
  if (precision != "fp32") {
    OCTET_ASSIGN_OR_RETURN(QuantizeRequest request,
                           QuantizeRequestFromFlags(static_cast<int>(threads[0])));
    OCTET_ASSIGN_OR_RETURN(quantized, QuantizeForBench(model, prep, &images, request));
    model = quantized->model;
  }
  SessionOptions session_options;
  session_options.threads = static_cast<int>(threads[0]);
  OCTET_ASSIGN_OR_RETURN(std::unique_ptr<Session> session, Session::Create(model, session_options));
  EvalOptions options;
  options.batch_size = batches[0];
  OCTET_ASSIGN_OR_RETURN(EvalResult r, Evaluate(*session, images, prep, options));
  const double seconds = absl::ToDoubleSeconds(r.elapsed);
  const bool json = absl::GetFlag(FLAGS_json);
  if (!json) {
    std::cout << absl::StrFormat(
        "model      %s\ndataset    %s (%d images, %dx%dx%d)\nprecision  %s (isa %s)\n",
        absl::GetFlag(FLAGS_model), spec, images.count, images.channels, images.height,
        images.width, precision, CpuIsaName());
  }
  if (quantized) PrintQuantizationReport(*quantized, json, &int8_json);
  if (json) {
    std::cout << absl::StrFormat(
        "{\"model\": %s, \"dataset\": %s, \"precision\": %s, \"samples\": %d, "
        "\"correct\": %d, \"accuracy\": %.6f, \"batch\": %d, \"threads\": %d, "
        "\"seconds\": %.3f, \"throughput_per_s\": %.1f, \"weight_bytes\": %d, "
        "\"isa\": %s%s%s}\n",
        JsonString(absl::GetFlag(FLAGS_model)), JsonString(spec), JsonString(precision), r.samples,
        r.correct, r.accuracy(), options.batch_size, session->threads(), seconds,
        r.samples / seconds, model->weight_bytes(), JsonString(CpuIsaName()),
        quantized ? "" : absl::StrFormat(", \"weight_bytes_fp32\": %d", fp32_weight_bytes),
        int8_json);
  } else {
    std::cout << absl::StrFormat(
        "accuracy   %.2f%% (%d/%d)\ntime       %.2f s (%.0f images/s, batch %d, %d threads)\n",
        100 * r.accuracy(), r.correct, r.samples, seconds, r.samples / seconds, options.batch_size,
        session->threads());
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
  const std::string precision = absl::GetFlag(FLAGS_precision);
  const int64_t fp32_weight_bytes = model->weight_bytes();
  if (precision != "fp32") {
    if (precision == "mixed") {
      return absl::InvalidArgumentError("speed measures fp32 or int8; plan mixed with eval");
    }
    OCTET_ASSIGN_OR_RETURN(QuantizeRequest request, QuantizeRequestFromFlags(0));
    OCTET_ASSIGN_OR_RETURN(datasets::Preprocessing prep, Prep());
    OCTET_ASSIGN_OR_RETURN(QuantizeResult q, QuantizeForBench(model, prep, nullptr, request));
    model = q.model;
  }
  SpeedOptions options;
  options.warmup_runs = absl::GetFlag(FLAGS_warmup);
  options.timed_runs = absl::GetFlag(FLAGS_runs);
  options.min_run_time = absl::Milliseconds(absl::GetFlag(FLAGS_min_run_ms));
  const bool json = absl::GetFlag(FLAGS_json);
  std::vector<std::string> rows;
  if (!json) {
    std::cout << absl::StrFormat("model %s, %s, isa %s\n%6s %8s %14s %12s %10s %10s\n",
                                 absl::GetFlag(FLAGS_model), precision, CpuIsaName(), "batch",
                                 "threads", "images/s", "median ms", "min ms", "max ms");
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
        "{\"model\": %s, \"precision\": %s, \"isa\": %s, \"weight_bytes\": %d, "
        "\"weight_bytes_fp32\": %d, \"packed_weight_bytes\": %d, \"peak_rss_mib\": %.1f, "
        "\"results\": [%s]}\n",
        JsonString(absl::GetFlag(FLAGS_model)), JsonString(precision), JsonString(CpuIsaName()),
        model->weight_bytes(), fp32_weight_bytes, model->packed_weight_bytes(), PeakRssMiB(),
        absl::StrJoin(rows, ", "));
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
  // Accept --calibration-data as well as Abseil's --calibration_data.
  octet::DashedFlags flags(argc, argv);
  std::vector<char*> args = absl::ParseCommandLine(flags.argc(), flags.argv());
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
