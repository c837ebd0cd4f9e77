#include "bench/quantized_model.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "engine/calibration/calibrator.h"
#include "engine/calibration/model_digest.h"
#include "engine/cpu_info.h"

namespace octet::bench {

absl::StatusOr<std::vector<Tensor>> SampleBatches(const datasets::LabelledImages& images,
                                                  const datasets::Preprocessing& prep,
                                                  int64_t count, int64_t batch,
                                                  std::vector<int32_t>* labels) {
  if (images.count == 0) return absl::InvalidArgumentError("the data set is empty");
  if (count < 0 || count > images.count) count = images.count;
  const bool nhwc = prep.layout == datasets::Preprocessing::Layout::kNHWC;
  std::vector<Tensor> batches;
  for (int64_t first = 0; first < count; first += batch) {
    const int64_t n = std::min(batch, count - first);
    Shape shape = nhwc ? Shape{n, images.height, images.width, images.channels}
                       : Shape{n, images.channels, images.height, images.width};
    Tensor t(DataType::kFloat32, shape);
    const int64_t per_image = images.image_size();
    for (int64_t i = 0; i < n; ++i) {
      const int64_t index = (first + i) * images.count / count;  // evenly spaced
      OCTET_RETURN_IF_ERROR(datasets::FillBatch(
          images, index, 1, prep, absl::MakeSpan(t.data<float>() + i * per_image, per_image)));
      if (labels != nullptr && images.labelled()) labels->push_back(images.labels[index]);
    }
    batches.push_back(std::move(t));
  }
  return batches;
}

absl::StatusOr<QuantizeResult> QuantizeForBench(std::shared_ptr<const Model> fp32,
                                                const datasets::Preprocessing& prep,
                                                const datasets::LabelledImages* validation,
                                                const QuantizeRequest& request) {
  if (request.precision != "int8" && request.precision != "mixed") {
    return absl::InvalidArgumentError(
        absl::StrCat("--precision must be fp32, int8 or mixed, not '", request.precision, "'"));
  }
  QuantizeResult result;
  OCTET_ASSIGN_OR_RETURN(std::string digest, calibration::FileDigest(request.model_path));
  QuantizationOptions quantization = DefaultQuantizationOptions();
  if (request.weight_scheme != "auto") {
    OCTET_ASSIGN_OR_RETURN(quantization.weight_scheme,
                           quant::ParseWeightScheme(request.weight_scheme));
  }
  quantization.per_tensor_weights = request.per_tensor_weights;

  if (!request.calibration_table.empty()) {
    OCTET_ASSIGN_OR_RETURN(result.table, calibration::Load(request.calibration_table));
    OCTET_RETURN_IF_ERROR(calibration::CheckMatchesModel(result.table, digest));
  } else {
    if (request.calibration_data.empty()) {
      return absl::InvalidArgumentError("INT8 needs --calibration-data (or --calibration-table)");
    }
    OCTET_ASSIGN_OR_RETURN(datasets::LabelledImages images,
                           datasets::LoadDataset(request.calibration_data));
    OCTET_ASSIGN_OR_RETURN(std::vector<Tensor> batches,
                           SampleBatches(images, prep, request.calibration_samples, 50, nullptr));
    calibration::CalibrationOptions options;
    OCTET_ASSIGN_OR_RETURN(options.method.method,
                           calibration::ParseCalibrationMethod(request.method));
    options.method.percentile = request.percentile;
    options.threads = request.threads;
    const absl::Time start = absl::Now();
    OCTET_ASSIGN_OR_RETURN(result.table, calibration::Calibrate(*fp32, batches, options));
    result.calibration_seconds = absl::ToDoubleSeconds(absl::Now() - start);
    result.table.model_digest = digest;
    result.table.weight_scheme = std::string(quant::WeightSchemeName(quantization.weight_scheme));
    result.table.extra["isa"] = CpuIsaName();
    if (!request.save_calibration_table.empty()) {
      OCTET_RETURN_IF_ERROR(calibration::Save(result.table, request.save_calibration_table));
    }
  }

  if (validation == nullptr) {
    if (request.precision == "mixed") {
      return absl::InvalidArgumentError("mixed precision needs a labelled validation set");
    }
    OCTET_ASSIGN_OR_RETURN(result.model,
                           fp32->Quantize(calibration::RangesFromTable(result.table),
                                          PrecisionPlan::AllInt8(fp32->graph()), quantization));
    return result;
  }
  calibration::ValidationSet set;
  OCTET_ASSIGN_OR_RETURN(set.batches, SampleBatches(*validation, prep, -1, 100, &set.labels));
  calibration::PlannerOptions options;
  options.tolerance = request.tolerance;
  options.tolerance_mode = request.tolerance_mode;
  options.allow_fallback = request.precision == "mixed";
  options.quantization = quantization;
  options.threads = request.threads;
  OCTET_ASSIGN_OR_RETURN(calibration::PrecisionReport report,
                         calibration::PlanPrecision(fp32, result.table, set, options));
  result.model = report.model;
  result.report = std::move(report);
  return result;
}

}  // namespace octet::bench
