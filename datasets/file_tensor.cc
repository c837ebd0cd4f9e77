// FileTensor helpers and the raw-bytes reader; the .npy format lives in npy.cc.

#include "datasets/file_tensor.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "datasets/internal/input_file.h"
#include "datasets/internal/status_macros.h"
#include "datasets/internal/tensor_layout.h"

namespace octet::datasets {

namespace internal {

std::string ShapeString(const std::vector<int64_t>& shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ", "), "]");
}

absl::StatusOr<uint64_t> TensorByteSize(absl::string_view dtype, const std::vector<int64_t>& shape,
                                        absl::string_view context) {
  absl::StatusOr<int64_t> element_size = ElementSize(dtype);
  if (!element_size.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(context, ": ", element_size.status().message()));
  }
  uint64_t bytes = static_cast<uint64_t>(*element_size);
  for (const int64_t dim : shape) {
    if (dim < 0) {
      return absl::InvalidArgumentError(
          absl::StrFormat("%s: shape %s has a negative dimension", context, ShapeString(shape)));
    }
    if (!MultiplyChecked(bytes, static_cast<uint64_t>(dim), &bytes) || bytes > kMaxPayloadBytes) {
      return absl::ResourceExhaustedError(
          absl::StrFormat("%s: a %s tensor of shape %s is larger than the %s this loader accepts",
                          context, dtype, ShapeString(shape), HumanBytes(kMaxPayloadBytes)));
    }
  }
  return bytes;
}

}  // namespace internal

int64_t FileTensor::element_count() const {
  int64_t count = 1;
  for (const int64_t dim : shape) count *= dim;
  return count;
}

absl::StatusOr<int64_t> ElementSize(absl::string_view dtype) {
  if (dtype == "float32" || dtype == "int32") return 4;
  if (dtype == "uint8" || dtype == "int8") return 1;
  if (dtype == "int64") return 8;
  return absl::InvalidArgumentError(absl::StrFormat(
      "unsupported dtype \"%s\"; supported: float32, uint8, int8, int32, int64", dtype));
}

absl::StatusOr<std::vector<int64_t>> ParseShape(absl::string_view text) {
  std::vector<int64_t> shape;
  if (absl::StripAsciiWhitespace(text).empty()) return shape;
  for (absl::string_view item : absl::StrSplit(text, ',')) {
    int64_t dim = 0;
    if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(item), &dim) || dim < 0) {
      return absl::InvalidArgumentError(
          absl::StrFormat("shape \"%s\": \"%s\" is not a non-negative integer", text, item));
    }
    shape.push_back(dim);
  }
  return shape;
}

absl::StatusOr<FileTensor> LoadRaw(const std::string& path, const std::string& dtype,
                                   const std::vector<int64_t>& shape) {
  ASSIGN_OR_RETURN(const uint64_t expected,
                   internal::TensorByteSize(dtype, shape, absl::StrFormat("raw file '%s'", path)));
  ASSIGN_OR_RETURN(internal::InputFile file,
                   internal::InputFile::Open(path, internal::InputFile::Compression::kNone));
  if (const std::optional<uint64_t> size = file.RemainingIfKnown();
      size.has_value() && *size != expected) {
    return absl::InvalidArgumentError(
        absl::StrFormat("raw file '%s' holds %d bytes but a %s tensor of shape %s needs exactly %d",
                        path, *size, dtype, internal::ShapeString(shape), expected));
  }
  FileTensor tensor;
  tensor.dtype = dtype;
  tensor.shape = shape;
  RETURN_IF_ERROR(file.ReadExactly(expected, "tensor data", &tensor.bytes));
  RETURN_IF_ERROR(file.ExpectEnd(absl::StrFormat("the shape %s", internal::ShapeString(shape))));
  return tensor;
}

}  // namespace octet::datasets
