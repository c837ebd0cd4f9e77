// calibrate: streams images of data sets to octet.v1.Calibration (or names the server's), shows
// the server's progress, and prints the report.
#include "absl/strings/str_cat.h"
#include "client/cli/commands.h"
#include "client/cli/input_builder.h"
#include "client/cli/progress.h"
#include "client/cli/response_format.h"
#include "common/status_macros.h"

namespace octet::cli {
namespace {

using octet::v1::CalibrationSample;

// `count` images (0: all) evenly spaced through `spec`, as messages of at most `chunk` images.
// Evenly spaced rather than a prefix: the shared data files are sorted by class.
absl::Status AppendSamples(const std::string& spec, int64_t count, CalibrationSample::Role role,
                           const TensorMetadata& input, const CalibrateOptions& options,
                           std::vector<CalibrationSample>* samples, int64_t* sent) {
  OCTET_ASSIGN_OR_RETURN(datasets::LabelledImages images, datasets::LoadDataset(spec));
  if (images.count == 0) return absl::InvalidArgumentError(absl::StrCat("'", spec, "' is empty"));
  const std::vector<int64_t> indices = EvenlySpaced(images.count, count);
  for (size_t first = 0; first < indices.size(); first += options.chunk) {
    const size_t n = std::min<size_t>(options.chunk, indices.size() - first);
    const absl::Span<const int64_t> chunk(indices.data() + first, n);
    OCTET_ASSIGN_OR_RETURN(client::InferInput tensor,
                           InputFromImages(input, images, chunk, options.prep));
    CalibrationSample& sample = samples->emplace_back();
    sample.set_role(role);
    sample.set_datatype(tensor.datatype);
    sample.mutable_shape()->Add(tensor.shape.begin(), tensor.shape.end());
    sample.set_raw_contents(std::move(tensor.raw));
    if (images.labelled()) {
      for (int64_t index : chunk) sample.add_labels(images.labels[index]);
    }
  }
  *sent = static_cast<int64_t>(indices.size());
  return absl::OkStatus();
}

}  // namespace

absl::Status RunCalibrate(const client::Client& client, const CalibrateOptions& options,
                          Console& console) {
  OCTET_ASSIGN_OR_RETURN(inference::ModelMetadataResponse metadata,
                         client.ModelMetadata(options.model.name, options.model.version));
  octet::v1::CalibrationSpec spec = options.spec;
  spec.set_model_name(options.model.name);
  spec.set_source_version(options.model.version);
  spec.set_input_name(options.input_name);

  std::vector<CalibrationSample> samples;
  int64_t calibration = 0, validation = 0;
  if (!options.dataset.empty() || !options.validation_dataset.empty()) {
    OCTET_ASSIGN_OR_RETURN(TensorMetadata input, SelectInput(metadata, options.input_name));
    if (!options.dataset.empty()) {
      OCTET_RETURN_IF_ERROR(AppendSamples(
          options.dataset, options.samples > 0 ? options.samples : kDefaultCalibrationSamples,
          CalibrationSample::CALIBRATION, input, options, &samples, &calibration));
    }
    if (!options.validation_dataset.empty()) {
      OCTET_RETURN_IF_ERROR(AppendSamples(options.validation_dataset, options.validation_samples,
                                          CalibrationSample::VALIDATION, input, options, &samples,
                                          &validation));
    }
  }
  // Streamed samples: exactly those sent. Server data only: --samples, 0 meaning the model's.
  spec.set_num_samples(
      static_cast<int32_t>(options.dataset.empty() ? options.samples : calibration));

  std::string what;
  if (calibration > 0)
    absl::StrAppend(&what, calibration, " calibration images from ", options.dataset);
  if (!spec.server_dataset().empty()) {
    absl::StrAppend(&what, what.empty() ? "" : " and ", "server data set ", spec.server_dataset());
  }
  if (validation > 0) {
    absl::StrAppend(&what, ", ", validation, " validation images from ",
                    options.validation_dataset);
  }
  console.err << "calibrate: " << options.model.name << " with " << what << "\n";

  ProgressReporter progress(console.err, console.err_is_terminal);
  absl::StatusOr<octet::v1::CalibrationReport> report = client.Calibrate(
      spec, samples, [&progress](const octet::v1::CalibrationProgress& p) { progress.Update(p); });
  progress.Finish();
  if (!report.ok()) return report.status();
  console.out << (options.json ? ProtoJson(*report) : FormatCalibrationReport(*report));
  return absl::OkStatus();
}

}  // namespace octet::cli
