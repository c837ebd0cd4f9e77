// The on-disk layout of a model repository, and which versions a version policy selects:
//
//   <repository>/<model>/config.pbtxt
//   <repository>/<model>/<version>/model.onnx                  version: a positive integer
//   <repository>/<model>/<version>/calibration.table           optional: serve INT8 / mixed
//   <repository>/<model>/<version>/calibration_report.pbtxt    optional: the per-layer plan
//
// Entries whose name starts with '.' are ignored, so that a new version can be written under a
// hidden name (".3.tmp") and published with one rename(2) to "3", after which a Load of the model
// picks it up whole. Other names that are not positive integers are ignored as well.
//
// Stateless functions; thread-safe (the file system may change under them: callers treat their
// results as a snapshot).
#ifndef OCTET_SERVER_REPOSITORY_REPOSITORY_LAYOUT_H_
#define OCTET_SERVER_REPOSITORY_REPOSITORY_LAYOUT_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "octet/v1/model_config.pb.h"

namespace octet::server {

inline constexpr char kModelFileName[] = "model.onnx";
inline constexpr char kCalibrationTableFileName[] = "calibration.table";
inline constexpr char kCalibrationReportFileName[] = "calibration_report.pbtxt";

// Model directory names, sorted. NOT_FOUND / FAILED_PRECONDITION when `root` is not a readable
// directory.
absl::StatusOr<std::vector<std::string>> ListModels(const std::string& root);

// Version numbers present in `model_dir`, ascending.
absl::StatusOr<std::vector<int64_t>> ListVersions(const std::string& model_dir);

// INVALID_ARGUMENT unless `name` can be a model directory name (non-empty, no '/', not hidden,
// not "." or ".."): what a Load request may name.
absl::Status CheckModelName(const std::string& name);

// PERMISSION_DENIED unless `path`, with every symbolic link in it resolved, lies inside the
// repository `root` (also resolved). Links that stay inside the repository are fine, as in
// Triton; a link that leads out of it (a model directory, config, version directory or file
// pointing elsewhere) is refused, so that the server reads only where the operator put models.
// `path` need not exist (a missing file has nothing to read). Checked when a model loads; a link
// changed afterwards is not noticed until the next load.
absl::Status CheckInsideRepository(const std::string& root, const std::string& path);
// CheckInsideRepository for a version directory and each file the server reads from it.
absl::Status CheckVersionInsideRepository(const std::string& root, const std::string& version_dir);

struct VersionSelection {
  std::vector<int64_t> versions;  // to serve, ascending
  // Versions the policy names that are not on disk, with why.
  std::map<int64_t, std::string> missing;
};

// What `policy` (latest N by default) selects from `available` (ascending).
VersionSelection SelectVersions(const v1::ModelVersionPolicy& policy,
                                const std::vector<int64_t>& available);

// A cheap identity of a version's files and its model's config: equal fingerprints mean a reload
// can keep the loaded version as it is. Built from the config's bytes and the size and
// modification time of each file above.
std::string VersionFingerprint(const std::string& version_dir, const v1::ModelConfig& config);

}  // namespace octet::server

#endif  // OCTET_SERVER_REPOSITORY_REPOSITORY_LAYOUT_H_
