// IDX reader (the MNIST format, http://yann.lecun.com/exdb/mnist/): a 4-byte magic
// 00 00 TYPE RANK, RANK big-endian uint32 dimensions, then the elements in row-major
// order. Only TYPE 0x08 (unsigned byte) occurs in image classification sets.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_format.h"
#include "datasets/dataset.h"
#include "datasets/internal/input_file.h"
#include "datasets/internal/status_macros.h"

namespace octet::datasets {
namespace {

using internal::InputFile;

constexpr uint8_t kIdxUnsignedByte = 0x08;
constexpr int kIdxImagesRank = 3;  // count, rows, columns
constexpr int kIdxLabelsRank = 1;  // count

struct IdxHeader {
  std::vector<uint64_t> dims;
};

const char* IdxTypeName(uint8_t type) {
  switch (type) {
    case 0x08:
      return "unsigned byte";
    case 0x09:
      return "signed byte";
    case 0x0B:
      return "int16";
    case 0x0C:
      return "int32";
    case 0x0D:
      return "float32";
    case 0x0E:
      return "float64";
    default:
      return "unknown";
  }
}

// `role` ("IDX images", "IDX labels") prefixes every message.
absl::StatusOr<IdxHeader> ReadIdxHeader(InputFile& file, int rank, absl::string_view role) {
  std::vector<uint8_t> magic;
  RETURN_IF_ERROR(file.ReadExactly(4, "IDX magic number", &magic));
  if (magic[0] != 0 || magic[1] != 0) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s file '%s' has a bad magic number %02x %02x %02x %02x (an IDX file starts with "
        "00 00 08 %02x): not an IDX file",
        role, file.path(), magic[0], magic[1], magic[2], magic[3], rank));
  }
  if (magic[2] != kIdxUnsignedByte) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s file '%s' holds elements of type 0x%02x (%s); only unsigned bytes (0x08) are "
        "supported",
        role, file.path(), magic[2], IdxTypeName(magic[2])));
  }
  if (magic[3] != rank) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s file '%s' has %d dimension(s) where %d are expected (IDX%d)%s", role,
                        file.path(), magic[3], rank, rank,
                        magic[3] == kIdxImagesRank   ? ": is it the images file?"
                        : magic[3] == kIdxLabelsRank ? ": is it the labels file?"
                                                     : ""));
  }
  std::vector<uint8_t> raw_dims;
  RETURN_IF_ERROR(file.ReadExactly(4 * static_cast<uint64_t>(rank), "IDX dimensions", &raw_dims));
  IdxHeader header;
  for (int d = 0; d < rank; ++d) {
    const uint8_t* p = raw_dims.data() + 4 * d;
    header.dims.push_back(uint64_t{p[0]} << 24 | uint64_t{p[1]} << 16 | uint64_t{p[2]} << 8 |
                          uint64_t{p[3]});
  }
  return header;
}

}  // namespace

absl::StatusOr<LabelledImages> LoadIdx(const std::string& images_path,
                                       const std::string& labels_path, int64_t max_count) {
  if (max_count < 1 && max_count != kAllImages) {
    return absl::InvalidArgumentError(
        absl::StrFormat("max_count must be positive or kAllImages, got %d", max_count));
  }
  // Both headers first, so that a count mismatch is reported before reading megabytes.
  ASSIGN_OR_RETURN(InputFile images_file,
                   InputFile::Open(images_path, InputFile::Compression::kDetect));
  ASSIGN_OR_RETURN(const IdxHeader images_header,
                   ReadIdxHeader(images_file, kIdxImagesRank, "IDX images"));
  const uint64_t count = images_header.dims[0];
  const uint64_t rows = images_header.dims[1];
  const uint64_t columns = images_header.dims[2];
  if (count == 0 || rows == 0 || columns == 0) {
    return absl::InvalidArgumentError(
        absl::StrFormat("IDX images file '%s' declares %d images of %dx%d: nothing to load",
                        images_path, count, rows, columns));
  }
  const uint64_t image_size = rows * columns;  // two 32-bit factors: cannot overflow
  uint64_t total_bytes = 0;
  if (!internal::MultiplyChecked(count, image_size, &total_bytes) ||
      total_bytes > internal::kMaxPayloadBytes) {
    return absl::ResourceExhaustedError(absl::StrFormat(
        "IDX images file '%s' declares %d images of %dx%d, more than the %s this loader "
        "accepts",
        images_path, count, rows, columns, internal::HumanBytes(internal::kMaxPayloadBytes)));
  }

  std::optional<InputFile> labels_file;
  if (!labels_path.empty()) {
    ASSIGN_OR_RETURN(labels_file, InputFile::Open(labels_path, InputFile::Compression::kDetect));
    ASSIGN_OR_RETURN(const IdxHeader labels_header,
                     ReadIdxHeader(*labels_file, kIdxLabelsRank, "IDX labels"));
    if (labels_header.dims[0] != count) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "count mismatch: IDX labels file '%s' holds %d labels but IDX images file '%s' holds "
          "%d images",
          labels_path, labels_header.dims[0], images_path, count));
    }
  }

  const bool read_all = max_count == kAllImages || static_cast<uint64_t>(max_count) >= count;
  const uint64_t wanted = read_all ? count : static_cast<uint64_t>(max_count);
  LabelledImages result;
  result.count = static_cast<int64_t>(wanted);
  result.channels = 1;
  result.height = static_cast<int64_t>(rows);
  result.width = static_cast<int64_t>(columns);
  RETURN_IF_ERROR(images_file.ReadExactly(wanted * image_size, "pixels", &result.pixels));
  if (read_all) RETURN_IF_ERROR(images_file.ExpectEnd("its IDX header"));

  if (labels_file.has_value()) {
    std::vector<uint8_t> label_bytes;
    RETURN_IF_ERROR(labels_file->ReadExactly(wanted, "labels", &label_bytes));
    if (read_all) RETURN_IF_ERROR(labels_file->ExpectEnd("its IDX header"));
    result.labels.assign(label_bytes.begin(), label_bytes.end());
  }
  return result;
}

}  // namespace octet::datasets
