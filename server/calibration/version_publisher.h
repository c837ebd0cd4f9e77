// Publishes a calibrated model version into a model repository:
//
//   <model_dir>/<N>/model.onnx                 the FP32 source's bytes (a copy)
//   <model_dir>/<N>/calibration.table          activation ranges, made for those bytes
//   <model_dir>/<N>/calibration_report.pbtxt   the report, with the per-layer plan
//
// Everything is written and fsync'ed under a hidden name (".calibrating-<N>-<pid>") and then
// renamed to <N> in one rename(2), followed by an fsync of the model directory: a crash, a full
// disk or an error at any point leaves either no version or a whole one, never a partial one
// (the repository ignores hidden names). N is one more than the largest version present.
//
// Thread-compatible: callers serialize publications per model (the calibration service runs
// one calibration per model at a time).
#ifndef OCTET_SERVER_CALIBRATION_VERSION_PUBLISHER_H_
#define OCTET_SERVER_CALIBRATION_VERSION_PUBLISHER_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "engine/calibration/calibration_table.h"
#include "octet/v1/calibration.pb.h"

namespace octet::server {

// Returns the published version number; the report's published_version is set to it.
absl::StatusOr<int64_t> PublishCalibratedVersion(const std::string& model_dir,
                                                 const std::string& source_model_path,
                                                 const calibration::CalibrationTable& table,
                                                 v1::CalibrationReport report);

// Removes hidden ".calibrating-*" directories left in `model_dir` by a process that died while
// publishing. Returns how many were removed.
absl::StatusOr<int> RemoveAbandonedPublications(const std::string& model_dir);

// Reads <version_dir>/calibration_report.pbtxt.
absl::StatusOr<v1::CalibrationReport> ReadCalibrationReport(const std::string& version_dir);

}  // namespace octet::server

#endif  // OCTET_SERVER_CALIBRATION_VERSION_PUBLISHER_H_
