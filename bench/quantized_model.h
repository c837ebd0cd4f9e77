// Turns an FP32 model into the INT8 or mixed model `octet-bench` measures: draws calibration
// samples evenly from a data set (the shared sets are sorted by class, so a prefix would see
// one class), calibrates or loads a calibration table, and plans the precision on a labelled
// validation set. Stateless; thread-compatible.
#ifndef OCTET_BENCH_QUANTIZED_MODEL_H_
#define OCTET_BENCH_QUANTIZED_MODEL_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "datasets/dataset.h"
#include "datasets/preprocessing.h"
#include "engine/calibration/calibration_table.h"
#include "engine/calibration/precision_planner.h"
#include "engine/model.h"

namespace octet::bench {

struct QuantizeRequest {
  std::string precision = "fp32";  // fp32, int8 or mixed
  std::string model_path;          // for the table's model digest
  std::string calibration_data;    // data set spec
  std::string calibration_table;   // load this table instead of calibrating
  std::string save_calibration_table;
  std::string method = "percentile";
  double percentile = 99.99;
  int64_t calibration_samples = 500;
  double tolerance = 0.5;
  calibration::ToleranceMode tolerance_mode = calibration::ToleranceMode::kAbsolute;
  bool per_tensor_weights = false;
  std::string weight_scheme = "auto";  // auto, full8, seven_bit, pair_limited
  int threads = 0;
};

struct QuantizeResult {
  std::shared_ptr<const Model> model;
  calibration::CalibrationTable table;
  double calibration_seconds = 0;                      // observing activations and choosing ranges
  std::optional<calibration::PrecisionReport> report;  // when a validation set was given
};

// `validation` (labelled images, already preprocessed by `prep`) is where accuracy, agreement
// and the mixed-precision fallback are measured; it may be null for "int8" (no report).
absl::StatusOr<QuantizeResult> QuantizeForBench(std::shared_ptr<const Model> fp32,
                                                const datasets::Preprocessing& prep,
                                                const datasets::LabelledImages* validation,
                                                const QuantizeRequest& request);

// `count` images spaced evenly through `images` (all of them when count < 0 or too large),
// preprocessed into batches of up to `batch` images; their labels appended to `labels`.
absl::StatusOr<std::vector<Tensor>> SampleBatches(const datasets::LabelledImages& images,
                                                  const datasets::Preprocessing& prep,
                                                  int64_t count, int64_t batch,
                                                  std::vector<int32_t>* labels);

}  // namespace octet::bench

#endif  // OCTET_BENCH_QUANTIZED_MODEL_H_
