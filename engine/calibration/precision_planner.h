// Accuracy-aware mixed precision: chooses which layers run in INT8 so that top-1 accuracy
// stays within a tolerance of FP32, as Intel Neural Compressor does offline.
//
// Every eligible layer is quantized first. When the accuracy drop exceeds the tolerance,
// layers are ranked by sensitivity - the SQNR of the model's output when only that layer is
// INT8 - and the most sensitive are returned to FP32, one at a time, until the tolerance holds
// (or no INT8 layer is left). The report gives per-layer errors, the plan, FP32 and final
// accuracy, top-1 agreement with FP32 and the time taken.
//
//   PlannerOptions options;
//   options.tolerance = 0.5;  // top-1 points
//   OCTET_ASSIGN_OR_RETURN(PrecisionReport report,
//                          PlanPrecision(fp32_model, table, validation, options));
//   serve(report.model);
//
// Offline code. The validation set should be representative (not sorted by class), since the
// sensitivity ranking uses an evenly spaced subset of its batches.
#ifndef OCTET_ENGINE_CALIBRATION_PRECISION_PLANNER_H_
#define OCTET_ENGINE_CALIBRATION_PRECISION_PLANNER_H_

#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "engine/calibration/calibration_table.h"
#include "engine/model.h"
#include "engine/quantize_graph.h"
#include "engine/tensor.h"

namespace octet::calibration {

struct ValidationSet {
  std::vector<Tensor> batches;  // inputs for the model's single input, each [N, ...]
  std::vector<int32_t> labels;  // one per sample; empty: FP32's top-1 is the reference
};

enum class ToleranceMode { kAbsolute, kRelative };

struct PlannerOptions {
  // Allowed top-1 drop: points (absolute) or percent of the FP32 accuracy (relative).
  double tolerance = 0.5;
  ToleranceMode tolerance_mode = ToleranceMode::kAbsolute;
  // false: every eligible layer in INT8 whatever the drop ("int8"); true: fall back ("mixed").
  bool allow_fallback = true;
  QuantizationOptions quantization = DefaultQuantizationOptions();
  // Samples used to rank layers and measure per-layer errors.
  int64_t sensitivity_samples = 256;
  int threads = 0;  // 0: all cores
  // Called as work progresses: phase name, steps done, steps planned.
  std::function<void(const std::string& phase, int done, int total)> progress;
  // Polled between model evaluations; returning true stops planning with CANCELLED.
  std::function<bool()> cancelled;
};

struct LayerReport {
  std::string node;
  std::string op_type;
  Precision precision = Precision::kFp32;
  // SQNR of this layer's output in the final model against FP32 (errors accumulated from
  // every quantized layer before it), in dB; higher is better.
  double sqnr_db = 0;
  double max_abs_error = 0;  // of that output, over the measured samples
  // SQNR of the model's output with only this layer in INT8: the ranking key. NaN when no
  // ranking was needed (the all-INT8 plan met the tolerance).
  double sensitivity_db = std::numeric_limits<double>::quiet_NaN();
  // Weight quantization: adjacent pairs that full 8-bit weights would saturate on AVX2
  // without VNNI, and the largest weight rounding error.
  int64_t saturating_pairs_full8 = 0;
  float weight_max_abs_error = 0;
};

struct PrecisionReport {
  PrecisionPlan plan;
  std::shared_ptr<const Model> model;  // the final mixed (or all-INT8) model
  bool labelled = false;
  int64_t samples = 0;
  double fp32_accuracy = 0;  // percent; 100 when FP32 is the reference
  double int8_accuracy = 0;  // percent, every eligible layer in INT8
  double accuracy = 0;       // percent, final plan
  double agreement = 0;      // percent of samples whose top-1 equals FP32's, final plan
  bool tolerance_met = false;
  std::vector<LayerReport> layers;    // every INT8-eligible layer, in graph order
  std::vector<std::string> fallback;  // layers returned to FP32, in that order
  int64_t weight_bytes_fp32 = 0;
  int64_t weight_bytes = 0;
  std::string weight_scheme;
  absl::Duration elapsed;
};

absl::StatusOr<PrecisionReport> PlanPrecision(std::shared_ptr<const Model> fp32,
                                              const CalibrationTable& table,
                                              const ValidationSet& validation,
                                              const PlannerOptions& options);

// Signal-to-quantization-noise ratio of `actual` against `reference`, in dB (capped at 200).
double SqnrDb(const Tensor& reference, const Tensor& actual);

}  // namespace octet::calibration

#endif  // OCTET_ENGINE_CALIBRATION_PRECISION_PLANNER_H_
