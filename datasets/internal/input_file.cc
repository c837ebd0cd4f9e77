#include "datasets/internal/input_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <utility>

#include "absl/strings/str_format.h"
#include "datasets/internal/status_macros.h"

namespace octet::datasets::internal {
namespace {

// Reads are issued in pieces of this size: big enough to be fast, small enough that a
// lying header costs little memory before the truncation is noticed.
constexpr size_t kChunkBytes = size_t{1} << 20;
// zlib's internal input buffer (the default, 8 KiB, makes gzread call read() too often).
constexpr unsigned kGzBufferBytes = 128u << 10;

}  // namespace

bool MultiplyChecked(uint64_t a, uint64_t b, uint64_t* product) {
  uint64_t result = 0;
  if (__builtin_mul_overflow(a, b, &result)) return false;
  *product = result;
  return true;
}

std::string HumanBytes(uint64_t bytes) {
  if (bytes < (uint64_t{1} << 10)) return absl::StrFormat("%d bytes", bytes);
  if (bytes < (uint64_t{1} << 20)) return absl::StrFormat("%.1f KiB", bytes / 1024.0);
  if (bytes < (uint64_t{1} << 30)) return absl::StrFormat("%.1f MiB", bytes / (1024.0 * 1024));
  return absl::StrFormat("%.1f GiB", bytes / (1024.0 * 1024 * 1024));
}

void InputFile::GzCloser::operator()(gzFile_s* gz) const { gzclose(gz); }
void InputFile::FileCloser::operator()(std::FILE* file) const { std::fclose(file); }

absl::StatusOr<InputFile> InputFile::Open(const std::string& path, Compression compression) {
  if (path.empty()) return absl::InvalidArgumentError("empty file path");
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int error = errno;
    return absl::ErrnoToStatus(error, absl::StrFormat("cannot open '%s'", path));
  }
  struct stat info = {};
  if (::fstat(fd, &info) != 0) {
    const int error = errno;
    ::close(fd);
    return absl::ErrnoToStatus(error, absl::StrFormat("cannot stat '%s'", path));
  }
  if (S_ISDIR(info.st_mode)) {
    ::close(fd);
    return absl::InvalidArgumentError(absl::StrFormat("'%s' is a directory, not a file", path));
  }

  InputFile file;
  file.path_ = path;
  if (S_ISREG(info.st_mode)) file.file_size_ = static_cast<uint64_t>(info.st_size);
  if (compression == Compression::kNone) {
    std::FILE* plain = ::fdopen(fd, "rb");
    if (plain == nullptr) {
      const int error = errno;
      ::close(fd);
      return absl::ErrnoToStatus(error, absl::StrFormat("cannot open '%s'", path));
    }
    file.plain_.reset(plain);
    return file;
  }
  gzFile gz = ::gzdopen(fd, "rb");
  if (gz == nullptr) {
    ::close(fd);  // gzdopen leaves fd open when it fails
    return absl::ResourceExhaustedError(absl::StrFormat("cannot open '%s' with zlib", path));
  }
  file.gz_.reset(gz);
  if (::gzbuffer(gz, kGzBufferBytes) != 0) {
    return absl::InternalError(absl::StrFormat("cannot size zlib's buffer for '%s'", path));
  }
  // Looks at the first bytes: 0 means a gzip stream was found.
  file.gzip_ = ::gzdirect(gz) == 0;
  return file;
}

std::optional<uint64_t> InputFile::RemainingIfKnown() const {
  if (gzip_ || !file_size_.has_value()) return std::nullopt;
  return *file_size_ > consumed_ ? *file_size_ - consumed_ : 0;
}

absl::StatusOr<size_t> InputFile::ReadSome(void* dst, size_t n) {
  auto* out = static_cast<uint8_t*>(dst);
  size_t done = 0;
  while (done < n) {
    const size_t want = std::min(n - done, kChunkBytes);
    if (plain_ != nullptr) {
      const size_t got = std::fread(out + done, 1, want, plain_.get());
      done += got;
      if (got < want) {
        if (std::ferror(plain_.get())) {
          const int error = errno;
          return absl::ErrnoToStatus(error, absl::StrFormat("cannot read '%s'", path_));
        }
        break;  // end of file
      }
      continue;
    }
    const int got = ::gzread(gz_.get(), out + done, static_cast<unsigned>(want));
    if (got < 0) {
      int zerr = Z_OK;
      const char* message = ::gzerror(gz_.get(), &zerr);
      if (zerr == Z_ERRNO) {
        const int error = errno;
        return absl::ErrnoToStatus(error, absl::StrFormat("cannot read '%s'", path_));
      }
      return absl::DataLossError(
          absl::StrFormat("'%s' is a corrupt gzip stream: %s", path_, message));
    }
    done += static_cast<size_t>(got);
    if (static_cast<size_t>(got) < want) {
      int zerr = Z_OK;
      ::gzerror(gz_.get(), &zerr);
      if (zerr == Z_BUF_ERROR) {
        return absl::DataLossError(absl::StrFormat(
            "'%s' is truncated: its gzip stream ends unexpectedly after %s of content", path_,
            HumanBytes(consumed_ + done)));
      }
      break;  // end of file
    }
  }
  consumed_ += done;
  return done;
}

absl::Status InputFile::ReadExactly(uint64_t n, absl::string_view what, std::vector<uint8_t>* dst) {
  const std::optional<uint64_t> remaining = RemainingIfKnown();
  if (remaining.has_value() && *remaining < n) {
    return absl::DataLossError(
        absl::StrFormat("'%s' is truncated: expected %d bytes of %s but only %d remain in the file",
                        path_, n, what, *remaining));
  }
  if (remaining.has_value()) dst->reserve(dst->size() + n);  // backed by the file: safe

  uint64_t done = 0;
  while (done < n) {
    const size_t chunk = static_cast<size_t>(std::min<uint64_t>(n - done, kChunkBytes));
    const size_t old_size = dst->size();
    dst->resize(old_size + chunk);
    absl::StatusOr<size_t> got = ReadSome(dst->data() + old_size, chunk);
    if (!got.ok()) {
      dst->resize(old_size);
      return got.status();
    }
    dst->resize(old_size + *got);
    done += *got;
    if (*got < chunk) {
      return absl::DataLossError(absl::StrFormat(
          "'%s' is truncated: expected %d bytes of %s but the content ends after %d", path_, n,
          what, done));
    }
  }
  return absl::OkStatus();
}

absl::Status InputFile::ExpectEnd(absl::string_view described_by) {
  uint8_t extra[1];
  const uint64_t position = consumed_;
  ASSIGN_OR_RETURN(const size_t got, ReadSome(extra, sizeof(extra)));
  if (got == 0) return absl::OkStatus();
  std::string extra_note;
  if (file_size_.has_value() && !gzip_) {
    extra_note = absl::StrFormat(" (%d extra bytes)", *file_size_ - position);
  }
  return absl::InvalidArgumentError(
      absl::StrFormat("'%s' is longer than %s says: unexpected data after byte %d%s", path_,
                      described_by, position, extra_note));
}

}  // namespace octet::datasets::internal
