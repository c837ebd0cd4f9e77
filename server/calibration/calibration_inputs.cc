#include "server/calibration/calibration_inputs.h"

#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"
#include "datasets/dataset.h"
#include "datasets/preprocessing.h"

namespace octet::server {
namespace {

constexpr int64_t kBatch = 50;

std::string DimsString(const Shape& shape) {
  std::vector<std::string> dims;
  for (int64_t d : shape) dims.push_back(d < 0 ? "N" : absl::StrCat(d));
  return absl::StrCat("[", absl::StrJoin(dims, ","), "]");
}

// The real path of `path` when it lies inside `resolved_root` (a real path); `name` is what the
// client wrote, for messages.
absl::StatusOr<std::string> ResolvedInsideRoot(const std::string& resolved_root,
                                               const std::string& path, const std::string& name) {
  char resolved[PATH_MAX];
  if (::realpath(path.c_str(), resolved) == nullptr) {
    return absl::NotFoundError(absl::StrCat("data set '", name, "' not found under the root"));
  }
  const std::string base = absl::StrCat(resolved_root, "/");
  if (std::strncmp(resolved, base.c_str(), base.size()) != 0) {
    return absl::PermissionDeniedError(
        absl::StrCat("data set '", name, "' leads outside the data set root"));
  }
  return std::string(resolved);
}

}  // namespace

absl::StatusOr<Tensor> DecodeCalibrationSample(const v1::CalibrationSample& sample,
                                               const TensorInfo& input) {
  if (sample.datatype() != "FP32") {
    return absl::InvalidArgumentError(
        absl::StrCat("calibration samples must be FP32 (preprocessed model inputs), got '",
                     sample.datatype(), "'"));
  }
  const Shape shape(sample.shape().begin(), sample.shape().end());
  bool matches = shape.size() == input.shape.size() && !shape.empty() && shape[0] > 0;
  for (size_t i = 1; matches && i < shape.size(); ++i) {
    matches = input.shape[i] < 0 ? shape[i] > 0 : shape[i] == input.shape[i];
  }
  if (!matches) {
    return absl::InvalidArgumentError(absl::StrCat("sample shape ", ShapeToString(shape),
                                                   " does not match input '", input.name, "' ",
                                                   DimsString(input.shape)));
  }
  auto count = NumElements(shape);
  if (!count.ok() || *count > (int64_t{1} << 28)) {
    return absl::InvalidArgumentError(
        absl::StrCat("sample shape ", ShapeToString(shape), " is too large"));
  }
  const size_t bytes = static_cast<size_t>(*count) * sizeof(float);
  if (sample.raw_contents().size() != bytes) {
    return absl::InvalidArgumentError(absl::StrCat("sample of shape ", ShapeToString(shape),
                                                   " needs ", bytes, " bytes, got ",
                                                   sample.raw_contents().size()));
  }
  if (!sample.labels().empty() && sample.labels_size() != shape[0]) {
    return absl::InvalidArgumentError(
        absl::StrCat("sample has ", shape[0], " images but ", sample.labels_size(), " labels"));
  }
  Tensor t(DataType::kFloat32, shape);
  std::memcpy(t.raw_data(), sample.raw_contents().data(), bytes);
  return t;
}

absl::StatusOr<std::string> ResolveInsideRoot(const std::string& root,
                                              const std::string& relative) {
  if (root.empty()) {
    return absl::PermissionDeniedError(
        "server-side data sets are disabled (start the server with --dataset-root)");
  }
  if (relative.empty() || relative[0] == '/') {
    return absl::PermissionDeniedError(
        absl::StrCat("data set path '", relative, "' must be relative to the data set root"));
  }
  for (absl::string_view part : absl::StrSplit(relative, '/')) {
    if (part == "..") {
      return absl::PermissionDeniedError(
          absl::StrCat("data set path '", relative, "' may not contain '..'"));
    }
  }
  char resolved_root[PATH_MAX];
  if (::realpath(root.c_str(), resolved_root) == nullptr) {
    return absl::NotFoundError(absl::StrCat("data set root '", root, "' does not exist"));
  }
  return ResolvedInsideRoot(resolved_root, absl::StrCat(resolved_root, "/", relative), relative);
}

absl::StatusOr<DatasetSamples> LoadServerDataset(const std::string& root, const std::string& spec,
                                                 const v1::ImagePreprocessing& preprocessing,
                                                 int64_t count, const TensorInfo& input) {
  // Resolve every path in the spec ("format:path[:path]") inside the root.
  std::vector<std::string> parts = absl::StrSplit(spec, ':');
  if (parts.size() < 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("data set '", spec, "' must be idx:IMAGES[:LABELS] or cifar10:PATH"));
  }
  std::string resolved = parts[0];
  for (size_t i = 1; i < parts.size(); ++i) {
    OCTET_ASSIGN_OR_RETURN(std::string path, ResolveInsideRoot(root, parts[i]));
    absl::StrAppend(&resolved, ":", path);
    // "idx:IMAGES" also reads the labels file beside the images (datasets::LoadDataset): it must
    // be inside the root as well, so it is resolved here and named explicitly.
    const std::string labels = datasets::IdxLabelsPathFor(path);
    if (parts[0] == "idx" && parts.size() == 2 && !labels.empty() &&
        ::access(labels.c_str(), F_OK) == 0) {
      char resolved_root[PATH_MAX];
      if (::realpath(root.c_str(), resolved_root) == nullptr) {
        return absl::NotFoundError(absl::StrCat("data set root '", root, "' does not exist"));
      }
      OCTET_ASSIGN_OR_RETURN(std::string labels_path,
                             ResolvedInsideRoot(resolved_root, labels, labels));
      absl::StrAppend(&resolved, ":", labels_path);
    }
  }
  OCTET_ASSIGN_OR_RETURN(datasets::LabelledImages images, datasets::LoadDataset(resolved));
  std::vector<std::string> mean, stddev;
  for (double m : preprocessing.mean()) mean.push_back(absl::StrCat(m));
  for (double s : preprocessing.std()) stddev.push_back(absl::StrCat(s));
  OCTET_ASSIGN_OR_RETURN(datasets::Preprocessing prep,
                         datasets::ParsePreprocessing(
                             preprocessing.scale() > 0 ? absl::StrCat(preprocessing.scale()) : "1",
                             absl::StrJoin(mean, ","), absl::StrJoin(stddev, ","),
                             preprocessing.layout().empty() ? "NCHW" : preprocessing.layout()));
  const bool nhwc = prep.layout == datasets::Preprocessing::Layout::kNHWC;
  const Shape image = nhwc ? Shape{images.height, images.width, images.channels}
                           : Shape{images.channels, images.height, images.width};
  if (input.shape.size() != 4 || !std::equal(image.begin(), image.end(), input.shape.begin() + 1)) {
    return absl::InvalidArgumentError(absl::StrCat("data set images ", ShapeToString(image),
                                                   " do not fit input '", input.name, "' ",
                                                   DimsString(input.shape)));
  }
  if (count <= 0 || count > images.count) count = images.count;
  DatasetSamples samples;
  const int64_t per_image = images.image_size();
  for (int64_t first = 0; first < count; first += kBatch) {
    const int64_t n = std::min(kBatch, count - first);
    Shape shape = {n};
    shape.insert(shape.end(), image.begin(), image.end());
    Tensor t(DataType::kFloat32, shape);
    for (int64_t i = 0; i < n; ++i) {
      const int64_t index = (first + i) * images.count / count;  // sets are sorted by class
      OCTET_RETURN_IF_ERROR(datasets::FillBatch(
          images, index, 1, prep, absl::MakeSpan(t.data<float>() + i * per_image, per_image)));
      if (images.labelled()) samples.labels.push_back(images.labels[index]);
    }
    samples.batches.push_back(std::move(t));
  }
  return samples;
}

}  // namespace octet::server
