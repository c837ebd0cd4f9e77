// Post-training calibration: runs sample inputs through an FP32 model, observes every
// activation the runtime materializes (the graph inputs and each node's output after fusion,
// which are exactly the tensors an INT8 plan quantizes) and selects each one's range with the
// chosen method.
//
//   CalibrationOptions options;
//   options.method.method = CalibrationMethod::kPercentile;
//   OCTET_ASSIGN_OR_RETURN(CalibrationTable table, Calibrate(*fp32_model, batches, options));
//   OCTET_ASSIGN_OR_RETURN(auto int8_model,
//                          fp32_model->Quantize(RangesFromTable(table), plan, quantization));
//
// Offline code: not used per request. Thread-compatible; the model is only read.
#ifndef OCTET_ENGINE_CALIBRATION_CALIBRATOR_H_
#define OCTET_ENGINE_CALIBRATION_CALIBRATOR_H_

#include <vector>

#include "absl/status/statusor.h"
#include "engine/calibration/calibration_table.h"
#include "engine/calibration/observer.h"
#include "engine/calibration/range_selection.h"
#include "engine/model.h"
#include "engine/quantize_graph.h"
#include "engine/tensor.h"

namespace octet::calibration {

struct CalibrationOptions {
  MethodOptions method;
  TensorObserver::Options observer;
  int threads = 0;  // 0: all cores
};

// `batches` are inputs for the model's single input (each [N, ...]).
absl::StatusOr<CalibrationTable> Calibrate(const Model& fp32, const std::vector<Tensor>& batches,
                                           const CalibrationOptions& options);

// The same model with every activation it materializes also exposed as a graph output, in the
// order of the returned names (for calibration and per-layer error measurement).
struct ObservationModel {
  std::shared_ptr<const Model> model;
  std::vector<std::string> tensors;  // output i is tensors[i]
};
absl::StatusOr<ObservationModel> MakeObservationModel(const Model& model);

ActivationRanges RangesFromTable(const CalibrationTable& table);

}  // namespace octet::calibration

#endif  // OCTET_ENGINE_CALIBRATION_CALIBRATOR_H_
