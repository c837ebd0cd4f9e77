#include "server/calibration/version_publisher.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "google/protobuf/text_format.h"
#include "server/repository/repository_layout.h"

namespace octet::server {
namespace {

namespace fs = std::filesystem;

constexpr char kTemporaryPrefix[] = ".calibrating-";

absl::Status ErrnoError(const std::string& what, const std::string& path) {
  const int e = errno;
  const std::string message = absl::StrCat(what, " '", path, "': ", std::strerror(e));
  if (e == ENOSPC || e == EDQUOT) return absl::ResourceExhaustedError(message);
  if (e == EACCES || e == EPERM || e == EROFS) return absl::PermissionDeniedError(message);
  return absl::InternalError(message);
}

absl::Status FsyncPath(const std::string& path, bool directory) {
  const int fd = ::open(path.c_str(), directory ? O_RDONLY | O_DIRECTORY : O_RDONLY);
  if (fd < 0) return ErrnoError("cannot open", path);
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return ErrnoError("cannot fsync", path);
  return absl::OkStatus();
}

// Writes `bytes` to a new file and makes it durable.
absl::Status WriteFileDurably(const std::string& path, const std::string& bytes) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0644);
  if (fd < 0) return ErrnoError("cannot create", path);
  size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      absl::Status status = ErrnoError("cannot write", path);
      ::close(fd);
      return status;
    }
    written += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    absl::Status status = ErrnoError("cannot fsync", path);
    ::close(fd);
    return status;
  }
  if (::close(fd) != 0) return ErrnoError("cannot close", path);
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read '", path, "'"));
  return std::string(std::istreambuf_iterator<char>(in), {});
}

absl::Status WriteVersionFiles(const std::string& dir, const std::string& source_model_path,
                               const calibration::CalibrationTable& table,
                               const v1::CalibrationReport& report) {
  OCTET_ASSIGN_OR_RETURN(std::string model_bytes, ReadFile(source_model_path));
  OCTET_RETURN_IF_ERROR(WriteFileDurably(dir + "/" + kModelFileName, model_bytes));
  // Save writes atomically and durably on its own.
  OCTET_RETURN_IF_ERROR(calibration::Save(table, dir + "/" + kCalibrationTableFileName));
  std::string report_text;
  if (!google::protobuf::TextFormat::PrintToString(report, &report_text)) {
    return absl::InternalError("cannot serialize the calibration report");
  }
  OCTET_RETURN_IF_ERROR(WriteFileDurably(dir + "/" + kCalibrationReportFileName,
                                         "# octet.v1.CalibrationReport\n" + report_text));
  return FsyncPath(dir, /*directory=*/true);
}

}  // namespace

absl::StatusOr<int64_t> PublishCalibratedVersion(const std::string& model_dir,
                                                 const std::string& source_model_path,
                                                 const calibration::CalibrationTable& table,
                                                 v1::CalibrationReport report) {
  OCTET_ASSIGN_OR_RETURN(std::vector<int64_t> versions, ListVersions(model_dir));
  int64_t version = versions.empty() ? 1 : versions.back() + 1;
  const std::string temporary =
      absl::StrCat(model_dir, "/", kTemporaryPrefix, version, "-", ::getpid());
  std::error_code ec;
  fs::remove_all(temporary, ec);
  if (!fs::create_directory(temporary, ec)) {
    return absl::InternalError(
        absl::StrCat("cannot create '", temporary, "': ", ec ? ec.message() : "exists"));
  }
  report.set_published_version(absl::StrCat(version));
  absl::Status written = WriteVersionFiles(temporary, source_model_path, table, report);
  if (written.ok()) {
    const std::string target = absl::StrCat(model_dir, "/", version);
    if (::rename(temporary.c_str(), target.c_str()) != 0) {
      written = ErrnoError("cannot publish", target);
    } else {
      written = FsyncPath(model_dir, /*directory=*/true);
      if (written.ok()) return version;
      return written;  // published, but not yet durable: report it
    }
  }
  fs::remove_all(temporary, ec);
  return written;
}

absl::StatusOr<int> RemoveAbandonedPublications(const std::string& model_dir) {
  std::error_code ec;
  int removed = 0;
  for (const auto& entry : fs::directory_iterator(model_dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(kTemporaryPrefix, 0) != 0) continue;
    fs::remove_all(entry.path(), ec);
    if (ec) {
      return absl::InternalError(
          absl::StrCat("cannot remove '", entry.path().string(), "': ", ec.message()));
    }
    ++removed;
  }
  if (ec) {
    return absl::NotFoundError(absl::StrCat("cannot list '", model_dir, "': ", ec.message()));
  }
  return removed;
}

absl::StatusOr<v1::CalibrationReport> ReadCalibrationReport(const std::string& version_dir) {
  const std::string path = version_dir + "/" + kCalibrationReportFileName;
  auto text = ReadFile(path);
  if (!text.ok()) {
    return absl::NotFoundError(absl::StrCat("no calibration report in '", version_dir, "'"));
  }
  v1::CalibrationReport report;
  if (!google::protobuf::TextFormat::ParseFromString(*text, &report)) {
    return absl::DataLossError(absl::StrCat("'", path, "' is not a valid calibration report"));
  }
  return report;
}

}  // namespace octet::server
