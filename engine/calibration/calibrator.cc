#include "engine/calibration/calibrator.h"

#include <map>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "engine/session.h"

namespace octet::calibration {

absl::StatusOr<ObservationModel> MakeObservationModel(const Model& model) {
  Graph graph = model.graph();
  std::vector<ValueId> observed = graph.inputs();
  for (const Node& node : graph.nodes()) {
    for (ValueId v : node.outputs) {
      if (v != kNoValue) observed.push_back(v);
    }
  }
  ObservationModel result;
  auto& outputs = graph.mutable_outputs();
  outputs.clear();
  for (ValueId v : observed) {
    outputs.push_back(v);
    result.tensors.push_back(graph.value(v).name);
  }
  OCTET_ASSIGN_OR_RETURN(result.model, Model::FromOptimizedGraph(std::move(graph), model.inputs()));
  return result;
}

absl::StatusOr<CalibrationTable> Calibrate(const Model& fp32, const std::vector<Tensor>& batches,
                                           const CalibrationOptions& options) {
  if (batches.empty()) return absl::InvalidArgumentError("no calibration samples");
  OCTET_ASSIGN_OR_RETURN(ObservationModel observation, MakeObservationModel(fp32));
  SessionOptions session_options;
  session_options.threads = options.threads;
  OCTET_ASSIGN_OR_RETURN(std::unique_ptr<Session> session,
                         Session::Create(observation.model, session_options));
  std::vector<TensorObserver> observers;
  for (const std::string& name : observation.tensors) {
    OCTET_ASSIGN_OR_RETURN(TensorObserver observer, TensorObserver::Create(name, options.observer));
    observers.push_back(std::move(observer));
  }
  int64_t samples = 0;
  for (const Tensor& batch : batches) {
    OCTET_ASSIGN_OR_RETURN(std::vector<Tensor> outputs, session->Run({batch.view()}));
    for (size_t i = 0; i < outputs.size(); ++i) {
      observers[i].Observe(outputs[i].values<float>());
    }
    samples += batch.shape().empty() ? 1 : batch.shape()[0];
  }
  CalibrationTable table;
  table.method = options.method;
  table.sample_count = samples;
  table.created = absl::Now();
  for (const TensorObserver& observer : observers) {
    OCTET_ASSIGN_OR_RETURN(Range range, SelectRange(observer, options.method));
    TensorCalibration entry;
    entry.min = range.lo;
    entry.max = range.hi;
    entry.observed_min = observer.min();
    entry.observed_max = observer.max();
    table.tensors[observer.tensor_name()] = entry;
  }
  return table;
}

ActivationRanges RangesFromTable(const CalibrationTable& table) {
  ActivationRanges ranges;
  for (const auto& [name, entry] : table.tensors) ranges[name] = {entry.min, entry.max};
  return ranges;
}

}  // namespace octet::calibration
