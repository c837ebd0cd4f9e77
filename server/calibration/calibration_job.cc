#include "server/calibration/calibration_job.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "engine/calibration/calibrator.h"
#include "engine/calibration/model_digest.h"
#include "engine/cpu_info.h"
#include "engine/model.h"
#include "server/calibration/version_publisher.h"
#include "server/repository/repository_layout.h"

namespace octet::server {
namespace {

using Phase = v1::CalibrationProgress::Phase;

void Report(const CalibrationJob& job, Phase phase, int64_t done, int64_t total,
            const std::string& message) {
  if (!job.progress) return;
  v1::CalibrationProgress progress;
  progress.set_phase(phase);
  progress.set_samples_seen(done);
  progress.set_samples_total(total);
  progress.set_message(message);
  job.progress(progress);
}

absl::Status CheckCancelled(const CalibrationJob& job) {
  if (job.cancelled && job.cancelled()) return absl::CancelledError("calibration was cancelled");
  return absl::OkStatus();
}

calibration::CalibrationMethod MethodOf(const v1::CalibrationSpec& spec) {
  switch (spec.method()) {
    case v1::MINMAX:
      return calibration::CalibrationMethod::kMinMax;
    case v1::ENTROPY:
      return calibration::CalibrationMethod::kEntropy;
    case v1::MSE:
      return calibration::CalibrationMethod::kMse;
    default:
      return calibration::CalibrationMethod::kPercentile;
  }
}

v1::CalibrationMethod ProtoMethod(calibration::CalibrationMethod method) {
  switch (method) {
    case calibration::CalibrationMethod::kMinMax:
      return v1::MINMAX;
    case calibration::CalibrationMethod::kEntropy:
      return v1::ENTROPY;
    case calibration::CalibrationMethod::kMse:
      return v1::MSE;
    case calibration::CalibrationMethod::kPercentile:
      break;
  }
  return v1::PERCENTILE;
}

v1::CalibrationReport ToProto(const CalibrationJob& job, const calibration::CalibrationTable& table,
                              const calibration::PrecisionReport& r, double tolerance) {
  v1::CalibrationReport report;
  report.set_model_name(job.model_name);
  report.set_source_version(absl::StrCat(job.source_version));
  report.set_method(ProtoMethod(table.method.method));
  report.set_percentile(table.method.percentile);
  const bool all_int8 = r.fallback.empty();
  report.set_precision(all_int8 ? v1::PRECISION_INT8 : v1::PRECISION_MIXED);
  report.set_num_calibration_samples(table.sample_count);
  report.set_num_validation_samples(r.samples);
  report.set_accuracy_from_labels(r.labelled);
  report.set_fp32_accuracy(r.fp32_accuracy);
  report.set_initial_accuracy(r.int8_accuracy);
  report.set_accuracy(r.accuracy);
  report.set_top1_agreement(r.agreement);
  report.set_tolerance(tolerance);
  report.set_tolerance_mode(job.spec.tolerance_mode() == v1::RELATIVE ? v1::RELATIVE
                                                                      : v1::ABSOLUTE);
  for (const calibration::LayerReport& layer : r.layers) {
    v1::LayerReport* out = report.add_layers();
    out->set_node_name(layer.node);
    out->set_op_type(layer.op_type);
    const std::string precision = layer.precision == Precision::kInt8 ? "int8" : "fp32";
    out->set_precision(precision);
    out->set_sqnr_db(layer.sqnr_db);
    out->set_max_abs_error(layer.max_abs_error);
    out->set_sensitivity_db(layer.sensitivity_db);
    out->set_saturating_pairs_full8(layer.saturating_pairs_full8);
    (*report.mutable_plan())[layer.node] = precision;
  }
  report.set_isa(CpuIsaName());
  report.set_weight_scheme(r.weight_scheme);
  report.set_weight_bytes_fp32(r.weight_bytes_fp32);
  report.set_weight_bytes(r.weight_bytes);
  const absl::Time now = absl::Now();
  report.mutable_created_at()->set_seconds(absl::ToUnixSeconds(now));
  return report;
}

}  // namespace

int64_t CountSamples(const std::vector<Tensor>& batches) {
  int64_t n = 0;
  for (const Tensor& t : batches) n += t.shape().empty() ? 1 : t.shape()[0];
  return n;
}

absl::StatusOr<CalibrationOutcome> RunCalibration(const CalibrationJob& job) {
  const absl::Time start = absl::Now();
  if (job.inputs.calibration.empty()) {
    return absl::InvalidArgumentError("no calibration samples were given");
  }
  const std::string source =
      absl::StrCat(job.model_dir, "/", job.source_version, "/", kModelFileName);
  OCTET_ASSIGN_OR_RETURN(std::shared_ptr<const Model> fp32, Model::Load(source));
  OCTET_ASSIGN_OR_RETURN(std::string digest, calibration::FileDigest(source));
  const int64_t calibration_samples = CountSamples(job.inputs.calibration);

  // Observe activations and choose ranges.
  Report(job, v1::CalibrationProgress::OBSERVING, 0, calibration_samples, "observing activations");
  calibration::CalibrationOptions options;
  options.method.method = MethodOf(job.spec);
  if (job.spec.percentile() > 0) options.method.percentile = job.spec.percentile();
  options.threads = job.threads;
  OCTET_ASSIGN_OR_RETURN(calibration::CalibrationTable table,
                         calibration::Calibrate(*fp32, job.inputs.calibration, options));
  table.model_digest = digest;
  const QuantizationOptions quantization = [&] {
    QuantizationOptions q = DefaultQuantizationOptions();
    q.per_tensor_weights = job.spec.per_tensor_weights();
    return q;
  }();
  table.weight_scheme = std::string(quant::WeightSchemeName(quantization.weight_scheme));
  table.extra["isa"] = CpuIsaName();
  Report(job, v1::CalibrationProgress::OBSERVING, calibration_samples, calibration_samples,
         "ranges chosen");
  OCTET_RETURN_IF_ERROR(CheckCancelled(job));

  // Plan the precision on the validation samples.
  calibration::ValidationSet validation;
  for (const Tensor& t :
       job.inputs.validation.empty() ? job.inputs.calibration : job.inputs.validation) {
    validation.batches.push_back(t);
  }
  validation.labels = job.inputs.validation_labels;
  calibration::PlannerOptions planner;
  planner.tolerance = job.spec.optional_tolerance_case() == v1::CalibrationSpec::kTolerance
                          ? job.spec.tolerance()
                          : 0.5;
  planner.tolerance_mode = job.spec.tolerance_mode() == v1::RELATIVE
                               ? calibration::ToleranceMode::kRelative
                               : calibration::ToleranceMode::kAbsolute;
  planner.allow_fallback = job.spec.precision() == v1::PRECISION_MIXED;
  planner.quantization = quantization;
  planner.threads = job.threads;
  planner.cancelled = job.cancelled;
  const int64_t validation_samples = CountSamples(validation.batches);
  planner.progress = [&job, validation_samples](const std::string& phase, int done, int total) {
    const bool fallback = phase == "sensitivity" || phase == "fallback";
    Report(job, fallback ? v1::CalibrationProgress::FALLBACK : v1::CalibrationProgress::EVALUATING,
           fallback ? done : 0, fallback ? total : validation_samples, phase);
  };
  Report(job, v1::CalibrationProgress::QUANTIZING, 0, 0, "quantizing weights");
  OCTET_ASSIGN_OR_RETURN(calibration::PrecisionReport details,
                         calibration::PlanPrecision(fp32, table, validation, planner));
  OCTET_RETURN_IF_ERROR(CheckCancelled(job));

  CalibrationOutcome outcome;
  outcome.report = ToProto(job, table, details, planner.tolerance);
  outcome.report.set_duration_seconds(absl::ToDoubleSeconds(absl::Now() - start));
  Report(job, v1::CalibrationProgress::PUBLISHING, 0, 0, "publishing the new version");
  OCTET_ASSIGN_OR_RETURN(outcome.published_version,
                         PublishCalibratedVersion(job.model_dir, source, table, outcome.report));
  outcome.report.set_published_version(absl::StrCat(outcome.published_version));
  outcome.details = std::move(details);
  return outcome;
}

}  // namespace octet::server
