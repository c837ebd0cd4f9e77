// FileTensor: one plain tensor read from a file, for feeding a model an exact input from
// the command line or saving one for a later comparison. Two formats:
//   .npy  NumPy's format, versions 1.0, 2.0 and 3.0; C order only; dtypes '<f4', '|u1',
//         '|i1', '<i4', '<i8' (little-endian). May be gzip-compressed.
//   raw   headerless little-endian bytes; the caller supplies dtype and shape, and the
//         file must hold exactly that many bytes. Never decompressed (raw data may start
//         with the gzip magic).
//
//   ASSIGN_OR_RETURN(FileTensor input, LoadNpy("digit.npy"));
//   // input.dtype == "float32", input.shape == {1, 1, 28, 28}, input.bytes.size() == 3136
//
// Loads are size-guarded like the image loaders (dataset.h): overflowing or oversized
// shapes (over 4 GiB) and truncated files are errors that name the file, never crashes.
//
// Ownership and threads: FileTensor is a plain value owning its bytes. The functions keep
// no state and may run concurrently on different files.
#ifndef OCTET_DATASETS_FILE_TENSOR_H_
#define OCTET_DATASETS_FILE_TENSOR_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace octet::datasets {

struct FileTensor {
  std::string dtype;           // "float32", "uint8", "int8", "int32" or "int64"
  std::vector<int64_t> shape;  // {} for a scalar
  // The elements in C (row-major) order, little-endian: on the little-endian hosts Octet
  // runs on, memcpy them into a typed buffer. Size: element_count() * ElementSize(dtype).
  std::vector<uint8_t> bytes;

  // Product of `shape` (1 for a scalar). Only meaningful for a valid tensor.
  int64_t element_count() const;
};

// Bytes per element of a supported dtype name; InvalidArgument listing the supported
// names otherwise.
absl::StatusOr<int64_t> ElementSize(absl::string_view dtype);

// Parses a shape as users type it: "1,3,32,32" (spaces allowed); "" is a scalar.
// Dimensions must be non-negative integers.
absl::StatusOr<std::vector<int64_t>> ParseShape(absl::string_view text);

absl::StatusOr<FileTensor> LoadNpy(const std::string& path);

// Reads `path` as the raw bytes of a `dtype` tensor of `shape`; the file size must match
// exactly.
absl::StatusOr<FileTensor> LoadRaw(const std::string& path, const std::string& dtype,
                                   const std::vector<int64_t>& shape);

// Writes `tensor` as a version 1.0 .npy file (2.0 when the header needs it), replacing
// `path`. InvalidArgument when the tensor is inconsistent (unknown dtype, negative
// dimension, byte count not matching the shape).
absl::Status SaveNpy(const std::string& path, const FileTensor& tensor);

}  // namespace octet::datasets

#endif  // OCTET_DATASETS_FILE_TENSOR_H_
