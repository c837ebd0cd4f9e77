// Shared by the .npy and raw tensor readers (file_tensor.h): dtype names and checked
// shape arithmetic. Stateless; thread-safe.
#ifndef OCTET_DATASETS_INTERNAL_TENSOR_LAYOUT_H_
#define OCTET_DATASETS_INTERNAL_TENSOR_LAYOUT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace octet::datasets::internal {

// "[1, 3, 32, 32]".
std::string ShapeString(const std::vector<int64_t>& shape);

// element count * element size of a `dtype` tensor of `shape`. InvalidArgument for an
// unknown dtype or a negative dimension, ResourceExhausted when it overflows or exceeds
// kMaxPayloadBytes. `context` (e.g. the file) prefixes messages.
absl::StatusOr<uint64_t> TensorByteSize(absl::string_view dtype, const std::vector<int64_t>& shape,
                                        absl::string_view context);

}  // namespace octet::datasets::internal

#endif  // OCTET_DATASETS_INTERNAL_TENSOR_LAYOUT_H_
