#include "engine/calibration/precision_planner.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "engine/calibration/calibrator.h"
#include "engine/session.h"

namespace octet::calibration {
namespace {

constexpr double kMaxSqnrDb = 200.0;

// The first output of `model` on every batch.
absl::StatusOr<std::vector<Tensor>> RunAll(std::shared_ptr<const Model> model,
                                           const std::vector<const Tensor*>& batches, int threads) {
  SessionOptions options;
  options.threads = threads;
  OCTET_ASSIGN_OR_RETURN(std::unique_ptr<Session> session, Session::Create(model, options));
  std::vector<Tensor> outputs;
  for (const Tensor* batch : batches) {
    OCTET_ASSIGN_OR_RETURN(std::vector<Tensor> out, session->Run({batch->view()}));
    outputs.push_back(std::move(out[0]));
  }
  return outputs;
}

std::vector<int32_t> Top1(const std::vector<Tensor>& outputs) {
  std::vector<int32_t> top1;
  for (const Tensor& t : outputs) {
    const int64_t rows = t.shape().empty() ? 1 : t.shape()[0];
    const int64_t classes = t.num_elements() / std::max<int64_t>(rows, 1);
    for (int64_t r = 0; r < rows; ++r) {
      const float* row = t.data<float>() + r * classes;
      top1.push_back(static_cast<int32_t>(std::max_element(row, row + classes) - row));
    }
  }
  return top1;
}

double PercentEqual(const std::vector<int32_t>& a, const std::vector<int32_t>& b) {
  if (a.empty()) return 0;
  int64_t same = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) same += a[i] == b[i];
  return 100.0 * same / a.size();
}

double MaxAbsError(const std::vector<Tensor>& reference, const std::vector<Tensor>& actual) {
  double worst = 0;
  for (size_t b = 0; b < reference.size(); ++b) {
    const float* r = reference[b].data<float>();
    const float* a = actual[b].data<float>();
    for (int64_t i = 0; i < reference[b].num_elements(); ++i) {
      worst = std::max(worst, std::fabs(double(r[i]) - a[i]));
    }
  }
  return worst;
}

double SqnrOver(const std::vector<Tensor>& reference, const std::vector<Tensor>& actual) {
  double signal = 0, noise = 0;
  for (size_t b = 0; b < reference.size(); ++b) {
    const float* r = reference[b].data<float>();
    const float* a = actual[b].data<float>();
    for (int64_t i = 0; i < reference[b].num_elements(); ++i) {
      signal += double(r[i]) * r[i];
      noise += (double(r[i]) - a[i]) * (double(r[i]) - a[i]);
    }
  }
  if (noise <= 0) return kMaxSqnrDb;
  return std::min(kMaxSqnrDb, 10.0 * std::log10(std::max(signal, 1e-30) / noise));
}

class Planner {
 public:
  Planner(std::shared_ptr<const Model> fp32, const CalibrationTable& table,
          const ValidationSet& validation, const PlannerOptions& options)
      : fp32_(std::move(fp32)),
        ranges_(RangesFromTable(table)),
        validation_(validation),
        options_(options) {}

  absl::StatusOr<PrecisionReport> Run() {
    const absl::Time start = absl::Now();
    OCTET_RETURN_IF_ERROR(Prepare());
    PrecisionReport report;
    report.labelled = !validation_.labels.empty();
    report.samples = static_cast<int64_t>(fp32_top1_.size());
    report.fp32_accuracy = Accuracy(fp32_top1_);
    report.weight_bytes_fp32 = fp32_->weight_bytes();
    report.weight_scheme =
        std::string(quant::WeightSchemeName(options_.quantization.weight_scheme));
    if (options_.quantization.per_tensor_weights) report.weight_scheme += " per-tensor";

    PrecisionPlan plan = PrecisionPlan::AllInt8(fp32_->graph());
    OCTET_ASSIGN_OR_RETURN(Evaluation all_int8, Evaluate(plan));
    report.int8_accuracy = all_int8.accuracy;
    Evaluation current = std::move(all_int8);

    std::vector<std::pair<double, std::string>> ranking;  // (sensitivity, node)
    if (options_.allow_fallback && !WithinTolerance(report.fp32_accuracy, current.accuracy)) {
      OCTET_ASSIGN_OR_RETURN(ranking, RankBySensitivity(plan));
      for (const auto& [sensitivity, node] : ranking) {
        if (WithinTolerance(report.fp32_accuracy, current.accuracy)) break;
        plan.nodes[node] = Precision::kFp32;
        report.fallback.push_back(node);
        Progress("fallback", static_cast<int>(report.fallback.size()),
                 static_cast<int>(ranking.size()));
        OCTET_ASSIGN_OR_RETURN(current, Evaluate(plan));
      }
    }
    report.plan = plan;
    report.model = current.model;
    report.accuracy = current.accuracy;
    report.agreement = PercentEqual(current.top1, fp32_top1_);
    report.tolerance_met = WithinTolerance(report.fp32_accuracy, report.accuracy);
    report.weight_bytes = current.model->weight_bytes();
    OCTET_ASSIGN_OR_RETURN(report.layers, LayerErrors(*current.model, plan, current.nodes));
    for (LayerReport& layer : report.layers) {
      for (const auto& [sensitivity, node] : ranking) {
        if (node == layer.node) layer.sensitivity_db = sensitivity;
      }
    }
    report.elapsed = absl::Now() - start;
    return report;
  }

 private:
  struct Evaluation {
    std::shared_ptr<const Model> model;
    std::vector<NodeQuantization> nodes;
    std::vector<int32_t> top1;
    double accuracy = 0;
  };

  absl::Status Prepare() {
    if (validation_.batches.empty()) return absl::InvalidArgumentError("no validation samples");
    for (const Tensor& t : validation_.batches) all_.push_back(&t);
    const int64_t per_batch = std::max<int64_t>(1, validation_.batches[0].shape()[0]);
    const size_t wanted = std::clamp<size_t>(
        (options_.sensitivity_samples + per_batch - 1) / per_batch, 1, all_.size());
    for (size_t i = 0; i < wanted; ++i) subset_.push_back(all_[i * all_.size() / wanted]);
    Progress("fp32", 0, 1);
    OCTET_ASSIGN_OR_RETURN(std::vector<Tensor> outputs, RunAll(fp32_, all_, options_.threads));
    fp32_top1_ = Top1(outputs);
    if (!validation_.labels.empty() && validation_.labels.size() != fp32_top1_.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat(validation_.labels.size(), " labels for ", fp32_top1_.size(), " samples"));
    }
    OCTET_ASSIGN_OR_RETURN(fp32_subset_, RunAll(fp32_, subset_, options_.threads));
    return absl::OkStatus();
  }

  double Accuracy(const std::vector<int32_t>& top1) const {
    return PercentEqual(top1, validation_.labels.empty() ? fp32_top1_ : validation_.labels);
  }

  bool WithinTolerance(double fp32, double accuracy) const {
    const double allowed = options_.tolerance_mode == ToleranceMode::kAbsolute
                               ? options_.tolerance
                               : options_.tolerance / 100.0 * fp32;
    return fp32 - accuracy <= allowed + 1e-9;
  }

  absl::StatusOr<QuantizedGraph> Quantize(const PrecisionPlan& plan) const {
    return QuantizeGraph(fp32_->graph(), ranges_, plan, options_.quantization);
  }

  absl::Status CheckCancelled() const {
    if (options_.cancelled && options_.cancelled()) {
      return absl::CancelledError("precision planning was cancelled");
    }
    return absl::OkStatus();
  }

  absl::StatusOr<Evaluation> Evaluate(const PrecisionPlan& plan) {
    OCTET_RETURN_IF_ERROR(CheckCancelled());
    Evaluation e;
    OCTET_ASSIGN_OR_RETURN(QuantizedGraph quantized, Quantize(plan));
    e.nodes = quantized.nodes;
    OCTET_ASSIGN_OR_RETURN(e.model,
                           Model::FromOptimizedGraph(std::move(quantized.graph), fp32_->inputs()));
    OCTET_ASSIGN_OR_RETURN(std::vector<Tensor> outputs, RunAll(e.model, all_, options_.threads));
    e.top1 = Top1(outputs);
    e.accuracy = Accuracy(e.top1);
    return e;
  }

  // (output SQNR with only that layer in INT8, node), most sensitive first.
  absl::StatusOr<std::vector<std::pair<double, std::string>>> RankBySensitivity(
      const PrecisionPlan& all_int8) {
    std::vector<std::pair<double, std::string>> ranking;
    int done = 0;
    for (const auto& [node, precision] : all_int8.nodes) {
      Progress("sensitivity", done++, static_cast<int>(all_int8.nodes.size()));
      OCTET_RETURN_IF_ERROR(CheckCancelled());
      PrecisionPlan single;
      single.nodes[node] = Precision::kInt8;
      OCTET_ASSIGN_OR_RETURN(QuantizedGraph quantized, Quantize(single));
      OCTET_ASSIGN_OR_RETURN(
          auto model, Model::FromOptimizedGraph(std::move(quantized.graph), fp32_->inputs()));
      OCTET_ASSIGN_OR_RETURN(std::vector<Tensor> outputs, RunAll(model, subset_, options_.threads));
      ranking.emplace_back(SqnrOver(fp32_subset_, outputs), node);
    }
    std::sort(ranking.begin(), ranking.end());
    return ranking;
  }

  absl::StatusOr<std::vector<LayerReport>> LayerErrors(
      const Model& final_model, const PrecisionPlan& plan,
      const std::vector<NodeQuantization>& quantized) {
    Progress("layer errors", 0, 1);
    OCTET_ASSIGN_OR_RETURN(ObservationModel reference, MakeObservationModel(*fp32_));
    OCTET_ASSIGN_OR_RETURN(ObservationModel observed, MakeObservationModel(final_model));
    std::map<std::string, std::vector<Tensor>> ref_values, values;
    for (auto [obs, out] : {std::pair{&reference, &ref_values}, std::pair{&observed, &values}}) {
      SessionOptions session_options;
      session_options.threads = options_.threads;
      OCTET_ASSIGN_OR_RETURN(auto session, Session::Create(obs->model, session_options));
      for (const Tensor* batch : subset_) {
        OCTET_ASSIGN_OR_RETURN(std::vector<Tensor> outputs, session->Run({batch->view()}));
        for (size_t i = 0; i < outputs.size(); ++i) {
          (*out)[obs->tensors[i]].push_back(std::move(outputs[i]));
        }
      }
    }
    std::vector<LayerReport> layers;
    for (const Node& node : fp32_->graph().nodes()) {
      if (!Int8Ineligibility(fp32_->graph(), node).empty()) continue;
      LayerReport layer;
      layer.node = node.name;
      layer.op_type = node.op_type;
      auto it = plan.nodes.find(node.name);
      layer.precision = it == plan.nodes.end() ? Precision::kFp32 : it->second;
      const std::string& output = fp32_->graph().value(node.outputs[0]).name;
      if (ref_values.count(output) && values.count(output)) {
        layer.sqnr_db = SqnrOver(ref_values[output], values[output]);
        layer.max_abs_error = MaxAbsError(ref_values[output], values[output]);
      }
      for (const NodeQuantization& q : quantized) {
        if (q.node != node.name) continue;
        layer.saturating_pairs_full8 = q.weights.saturating_pairs_full8;
        layer.weight_max_abs_error = q.weights.max_abs_error;
      }
      layers.push_back(std::move(layer));
    }
    return layers;
  }

  void Progress(const std::string& phase, int done, int total) const {
    if (options_.progress) options_.progress(phase, done, total);
  }

  const std::shared_ptr<const Model> fp32_;
  const ActivationRanges ranges_;
  const ValidationSet& validation_;
  const PlannerOptions options_;
  std::vector<const Tensor*> all_;
  std::vector<const Tensor*> subset_;
  std::vector<int32_t> fp32_top1_;
  std::vector<Tensor> fp32_subset_;
};

}  // namespace

double SqnrDb(const Tensor& reference, const Tensor& actual) {
  std::vector<Tensor> r, a;
  r.push_back(reference);
  a.push_back(actual);
  return SqnrOver(r, a);
}

absl::StatusOr<PrecisionReport> PlanPrecision(std::shared_ptr<const Model> fp32,
                                              const CalibrationTable& table,
                                              const ValidationSet& validation,
                                              const PlannerOptions& options) {
  if (fp32 == nullptr) return absl::InvalidArgumentError("no model");
  if (options.tolerance < 0) return absl::InvalidArgumentError("tolerance must be >= 0");
  return Planner(std::move(fp32), table, validation, options).Run();
}

}  // namespace octet::calibration
