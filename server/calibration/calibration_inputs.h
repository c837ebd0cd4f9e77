// Turns what a Calibrate call supplies into engine tensors: samples streamed by the client
// (CalibrationSample: FP32 bytes of shape [N, ...], optional labels) and data sets named on
// the server (`server_dataset` / `validation_dataset`, e.g. "cifar10:calib500.bin"), which
// are read only from inside the directory the operator allowed (--dataset-root): absolute
// paths, ".." and symbolic links that lead outside it are refused.
//
// Stateless functions; thread-safe.
#ifndef OCTET_SERVER_CALIBRATION_CALIBRATION_INPUTS_H_
#define OCTET_SERVER_CALIBRATION_CALIBRATION_INPUTS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/model.h"
#include "engine/tensor.h"
#include "octet/v1/calibration.pb.h"

namespace octet::server {

// Checks one streamed sample against the model's input (dtype FP32, dims after the batch
// dimension, byte count, label count) and returns it as a tensor.
absl::StatusOr<Tensor> DecodeCalibrationSample(const v1::CalibrationSample& sample,
                                               const TensorInfo& input);

// The real path of `relative` inside `root`, or PERMISSION_DENIED / NOT_FOUND / INVALID_ARGUMENT.
absl::StatusOr<std::string> ResolveInsideRoot(const std::string& root, const std::string& relative);

struct DatasetSamples {
  std::vector<Tensor> batches;
  std::vector<int32_t> labels;  // empty when the data set has none
};

// Loads `count` images (all when <= 0) spaced evenly through the data set `spec`
// ("idx:IMAGES[:LABELS]" or "cifar10:PATH", paths relative to `root`), preprocessed as
// `preprocessing` says, in batches shaped like `input`.
absl::StatusOr<DatasetSamples> LoadServerDataset(const std::string& root, const std::string& spec,
                                                 const v1::ImagePreprocessing& preprocessing,
                                                 int64_t count, const TensorInfo& input);

}  // namespace octet::server

#endif  // OCTET_SERVER_CALIBRATION_CALIBRATION_INPUTS_H_
