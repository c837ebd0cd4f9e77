#include "engine/calibration/internal/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace octet::calibration::internal {
namespace {

// Names temporary files uniquely within this process; the pid separates processes.
std::atomic<uint64_t> temp_counter{0};

constexpr int kMaxCreateAttempts = 16;

absl::Status ErrnoError(int error, absl::string_view what, absl::string_view path) {
  const std::string message =
      absl::StrCat("cannot write '", path, "': ", what, ": ", std::strerror(error));
  switch (error) {
    case ENOSPC:
    case EDQUOT:
      return absl::ResourceExhaustedError(absl::StrCat(message, " (out of disk space or quota)"));
    case EFBIG:
      return absl::ResourceExhaustedError(absl::StrCat(message, " (file size limit)"));
    case EACCES:
    case EPERM:
    case EROFS:
      return absl::PermissionDeniedError(message);
    case ENOENT:
      return absl::NotFoundError(message);
    default:
      return absl::ErrnoToStatus(error, message);
  }
}

// Splits "dir/name" into its directory ("." when there is none) and base name.
void SplitPath(const std::string& path, std::string& dir, std::string& base) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) {
    dir = ".";
    base = path;
  } else {
    dir = slash == 0 ? "/" : path.substr(0, slash);
    base = path.substr(slash + 1);
  }
}

absl::Status WriteAll(int fd, absl::string_view contents, const std::string& path) {
  while (!contents.empty()) {
    const ssize_t wrote = ::write(fd, contents.data(), contents.size());
    if (wrote < 0) {
      if (errno == EINTR) continue;
      return ErrnoError(errno, "write", path);
    }
    contents.remove_prefix(static_cast<size_t>(wrote));
  }
  return absl::OkStatus();
}

// Everything after the temporary file exists; the caller removes it on failure.
absl::Status WriteSyncRename(int fd, const std::string& temp, const std::string& path,
                             absl::string_view contents) {
  absl::Status status = WriteAll(fd, contents, path);
  if (status.ok() && ::fsync(fd) != 0) status = ErrnoError(errno, "fsync", path);
  // close() can report a deferred write error (e.g. on NFS), so it is checked too.
  if (::close(fd) != 0 && status.ok()) status = ErrnoError(errno, "close", path);
  if (!status.ok()) return status;
  if (::rename(temp.c_str(), path.c_str()) != 0) return ErrnoError(errno, "rename", path);
  return absl::OkStatus();
}

}  // namespace

absl::Status WriteFileAtomically(const std::string& path, absl::string_view contents) {
  std::string dir, base;
  SplitPath(path, dir, base);
  if (base.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("cannot write '", path, "': not a file name"));
  }

  std::string temp;
  int fd = -1;
  for (int attempt = 0; fd < 0 && attempt < kMaxCreateAttempts; ++attempt) {
    temp = absl::StrCat(dir, "/.", base, ".tmp.", ::getpid(), ".", temp_counter.fetch_add(1));
    // 0644 before the umask: the same permissions a plain fopen("w") would give.
    fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0 && errno != EEXIST) return ErrnoError(errno, "create temporary file", path);
  }
  if (fd < 0) return ErrnoError(EEXIST, "create temporary file", path);

  const absl::Status status = WriteSyncRename(fd, temp, path, contents);
  if (!status.ok()) {
    ::unlink(temp.c_str());
    return status;
  }

  // The rename is durable only once the directory entry is on disk. The new file is already in
  // place, so a failure here is reported but nothing is rolled back.
  const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) return ErrnoError(errno, "open directory to fsync", path);
  const int sync_result = ::fsync(dir_fd);
  const int sync_error = errno;
  ::close(dir_fd);
  if (sync_result != 0) return ErrnoError(sync_error, "fsync directory", path);
  return absl::OkStatus();
}

}  // namespace octet::calibration::internal
