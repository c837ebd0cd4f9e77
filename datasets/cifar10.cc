// CIFAR-10 binary reader (https://www.cs.toronto.edu/~kriz/cifar.html, "binary version"):
// a headerless sequence of 3073-byte records, so the file size is the only framing.

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_format.h"
#include "datasets/dataset.h"
#include "datasets/internal/input_file.h"
#include "datasets/internal/status_macros.h"

namespace octet::datasets {
namespace {

using internal::InputFile;

constexpr int64_t kCifarChannels = 3;
constexpr int64_t kCifarSide = 32;
constexpr int64_t kCifarImageBytes = kCifarChannels * kCifarSide * kCifarSide;  // 3072
constexpr int64_t kCifarRecordBytes = 1 + kCifarImageBytes;                     // 3073
constexpr int kCifar10Classes = 10;

}  // namespace

absl::StatusOr<LabelledImages> LoadCifar10Binary(const std::string& path, int64_t max_count) {
  if (max_count < 1 && max_count != kAllImages) {
    return absl::InvalidArgumentError(
        absl::StrFormat("max_count must be positive or kAllImages, got %d", max_count));
  }
  ASSIGN_OR_RETURN(InputFile file, InputFile::Open(path, InputFile::Compression::kDetect));
  const int64_t max_records = static_cast<int64_t>(internal::kMaxPayloadBytes / kCifarRecordBytes);
  // An uncompressed file's size is its record count: check it before reading anything.
  if (const std::optional<uint64_t> size = file.RemainingIfKnown(); size.has_value()) {
    if (*size == 0) {
      return absl::InvalidArgumentError(absl::StrFormat("CIFAR-10 file '%s' is empty", path));
    }
    if (*size % kCifarRecordBytes != 0) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "CIFAR-10 file '%s' is %d bytes, not a whole number of %d-byte records (truncated, "
          "or not the CIFAR-10 binary format: CIFAR-100 records are 3074 bytes)",
          path, *size, kCifarRecordBytes));
    }
  }

  LabelledImages result;
  result.channels = kCifarChannels;
  result.height = kCifarSide;
  result.width = kCifarSide;
  if (const std::optional<uint64_t> size = file.RemainingIfKnown(); size.has_value()) {
    int64_t records = static_cast<int64_t>(*size / kCifarRecordBytes);
    if (max_count != kAllImages) records = std::min(records, max_count);
    if (records <= max_records) {
      result.pixels.reserve(static_cast<size_t>(records * kCifarImageBytes));
      result.labels.reserve(static_cast<size_t>(records));
    }
  }

  uint8_t record[kCifarRecordBytes];
  while (max_count == kAllImages || result.count < max_count) {
    ASSIGN_OR_RETURN(const size_t got, file.ReadSome(record, sizeof(record)));
    if (got == 0) break;
    if (got < sizeof(record)) {
      return absl::DataLossError(
          absl::StrFormat("CIFAR-10 file '%s' is truncated: record %d has %d of its %d bytes", path,
                          result.count, got, kCifarRecordBytes));
    }
    if (record[0] >= kCifar10Classes) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "CIFAR-10 file '%s': record %d has label %d, outside 0..9 (not a CIFAR-10 binary "
          "file?)",
          path, result.count, record[0]));
    }
    if (result.count == max_records) {
      return absl::ResourceExhaustedError(
          absl::StrFormat("CIFAR-10 file '%s' holds more than %d records (%s), the most this "
                          "loader accepts",
                          path, max_records, internal::HumanBytes(internal::kMaxPayloadBytes)));
    }
    result.labels.push_back(record[0]);
    result.pixels.insert(result.pixels.end(), record + 1, record + kCifarRecordBytes);
    ++result.count;
  }
  if (result.count == 0) {
    return absl::InvalidArgumentError(absl::StrFormat("CIFAR-10 file '%s' is empty", path));
  }
  return result;
}

}  // namespace octet::datasets
