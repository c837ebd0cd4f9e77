// One calibration, from samples to a published INT8 (or mixed) version, independent of gRPC:
// load the FP32 source version, observe activations on the calibration samples, plan the
// precision against the validation samples (labels, or the FP32 outputs as the reference),
// write the report and publish the version (version_publisher.h).
//
//   CalibrationJob job{...};
//   OCTET_ASSIGN_OR_RETURN(CalibrationOutcome outcome, RunCalibration(job));
//   repository->Load(job.model_name);  // serves the new version
//
// Runs on the calling thread (the calibration service's worker, never an inference thread);
// reports progress and polls for cancellation between phases. Nothing is published unless
// every step succeeded.
#ifndef OCTET_SERVER_CALIBRATION_CALIBRATION_JOB_H_
#define OCTET_SERVER_CALIBRATION_CALIBRATION_JOB_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/calibration/precision_planner.h"
#include "engine/tensor.h"
#include "octet/v1/calibration.pb.h"

namespace octet::server {

struct CalibrationInputs {
  std::vector<Tensor> calibration;         // batches [N, ...] for the model's input
  std::vector<Tensor> validation;          // batches; empty: the calibration samples
  std::vector<int32_t> validation_labels;  // per validation sample; empty: FP32 is the reference
};

struct CalibrationJob {
  std::string model_name;
  std::string model_dir;  // <repository>/<model>
  int64_t source_version = 0;
  v1::CalibrationSpec spec;
  CalibrationInputs inputs;
  int threads = 0;  // OpenMP team for the calibration runs; 0: all cores
  std::function<void(const v1::CalibrationProgress&)> progress;
  std::function<bool()> cancelled;
};

struct CalibrationOutcome {
  v1::CalibrationReport report;
  int64_t published_version = 0;
  calibration::PrecisionReport details;  // the planner's report (model included)
};

absl::StatusOr<CalibrationOutcome> RunCalibration(const CalibrationJob& job);

// Samples in `batches` (their dim 0 summed).
int64_t CountSamples(const std::vector<Tensor>& batches);

}  // namespace octet::server

#endif  // OCTET_SERVER_CALIBRATION_CALIBRATION_JOB_H_
