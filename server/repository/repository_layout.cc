#include "server/repository/repository_layout.h"

#include <algorithm>
#include <filesystem>
#include <system_error>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"

namespace octet::server {
namespace {

namespace fs = std::filesystem;

bool IsHidden(const std::string& name) { return !name.empty() && name[0] == '.'; }

// A positive decimal integer without sign or leading zeros.
bool ParseVersion(const std::string& name, int64_t* version) {
  if (name.empty() || name[0] == '0') return false;
  if (!std::all_of(name.begin(), name.end(), [](char c) { return absl::ascii_isdigit(c); })) {
    return false;
  }
  return absl::SimpleAtoi(name, version) && *version > 0;
}

absl::StatusOr<std::vector<std::string>> ListSubdirectories(const std::string& dir) {
  std::error_code error;
  if (!fs::is_directory(dir, error)) {
    return absl::NotFoundError(absl::StrCat(dir, " is not a directory"));
  }
  std::vector<std::string> names;
  fs::directory_iterator it(dir, error);
  if (error) {
    return absl::FailedPreconditionError(absl::StrCat("cannot list ", dir, ": ", error.message()));
  }
  for (const fs::directory_entry& entry : it) {
    const std::string name = entry.path().filename().string();
    std::error_code ignored;
    if (IsHidden(name) || !entry.is_directory(ignored)) continue;
    names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

void AppendFileIdentity(const std::string& path, std::string* out) {
  std::error_code error;
  const auto size = fs::file_size(path, error);
  if (error) {
    absl::StrAppend(out, path, ":absent;");
    return;
  }
  const auto mtime = fs::last_write_time(path, error).time_since_epoch().count();
  absl::StrAppend(out, path, ":", size, ":", error ? 0 : mtime, ";");
}

}  // namespace

absl::StatusOr<std::vector<std::string>> ListModels(const std::string& root) {
  return ListSubdirectories(root);
}

absl::StatusOr<std::vector<int64_t>> ListVersions(const std::string& model_dir) {
  absl::StatusOr<std::vector<std::string>> names = ListSubdirectories(model_dir);
  if (!names.ok()) return names.status();
  std::vector<int64_t> versions;
  for (const std::string& name : *names) {
    int64_t version = 0;
    if (ParseVersion(name, &version)) versions.push_back(version);
  }
  std::sort(versions.begin(), versions.end());
  return versions;
}

absl::Status CheckModelName(const std::string& name) {
  if (name.empty()) return absl::InvalidArgumentError("the model name is empty");
  if (name.find('/') != std::string::npos || name.find('\0') != std::string::npos ||
      IsHidden(name)) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", name,
                     "' is not a model name: it must be a directory name inside the "
                     "repository, without '/' and not starting with '.'"));
  }
  return absl::OkStatus();
}

absl::Status CheckInsideRepository(const std::string& root, const std::string& path) {
  std::error_code error;
  const fs::path real_root = fs::canonical(root, error);
  if (error) {
    return absl::NotFoundError(
        absl::StrCat("model repository '", root, "' cannot be resolved: ", error.message()));
  }
  const fs::path real = fs::weakly_canonical(path, error);
  if (error) {
    return absl::NotFoundError(absl::StrCat("'", path, "' cannot be resolved: ", error.message()));
  }
  // Inside means the root itself or below it, compared by whole path components.
  auto r = real_root.begin(), p = real.begin();
  for (; r != real_root.end(); ++r, ++p) {
    if (p == real.end() || *p != *r) {
      return absl::PermissionDeniedError(
          absl::StrCat("'", path, "' leads outside the model repository (to '", real.string(),
                       "'): symbolic links out of the repository are not followed"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckVersionInsideRepository(const std::string& root, const std::string& version_dir) {
  if (absl::Status status = CheckInsideRepository(root, version_dir); !status.ok()) return status;
  for (const char* file : {kModelFileName, kCalibrationTableFileName, kCalibrationReportFileName}) {
    if (absl::Status status = CheckInsideRepository(root, absl::StrCat(version_dir, "/", file));
        !status.ok()) {
      return status;
    }
  }
  return absl::OkStatus();
}

VersionSelection SelectVersions(const v1::ModelVersionPolicy& policy,
                                const std::vector<int64_t>& available) {
  VersionSelection selection;
  if (policy.has_all()) {
    selection.versions = available;
  } else if (policy.has_specific()) {
    for (int64_t v : policy.specific().versions()) {
      if (std::binary_search(available.begin(), available.end(), v)) {
        selection.versions.push_back(v);
      } else {
        selection.missing[v] =
            absl::StrCat("version ", v,
                         " is listed in version_policy.specific but its directory "
                         "does not exist");
      }
    }
    std::sort(selection.versions.begin(), selection.versions.end());
    selection.versions.erase(std::unique(selection.versions.begin(), selection.versions.end()),
                             selection.versions.end());
  } else {
    const size_t n = std::max<size_t>(1, policy.has_latest() ? policy.latest().num_versions() : 1);
    const size_t first = available.size() > n ? available.size() - n : 0;
    selection.versions.assign(available.begin() + static_cast<std::ptrdiff_t>(first),
                              available.end());
  }
  return selection;
}

std::string VersionFingerprint(const std::string& version_dir, const v1::ModelConfig& config) {
  std::string fingerprint;
  {
    // Deterministic: `parameters` is a map, whose default serialization order is unspecified.
    google::protobuf::io::StringOutputStream stream(&fingerprint);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    config.SerializeToCodedStream(&coded);
  }
  fingerprint = absl::StrCat(fingerprint.size(), ":", fingerprint, ";");
  for (const char* file : {kModelFileName, kCalibrationTableFileName, kCalibrationReportFileName}) {
    AppendFileIdentity(absl::StrCat(version_dir, "/", file), &fingerprint);
  }
  return fingerprint;
}

}  // namespace octet::server
